// Package otlpsink is an OTLP trace receiver that keeps what it is sent,
// over HTTP (POST /v1/traces, protobuf, gzip or not) and gRPC: the
// collector of the tracing tests, and the sink of the tracing benchmark
// (cmd/otlpsink), which only counts.
package otlpsink

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// maxBody bounds one export request.
const maxBody = 32 << 20

// Span is one received span, flattened: its resource's attributes with its
// own, every value as text.
type Span struct {
	Resource     map[string]string
	Scope        string
	Name         string
	Kind         string
	TraceID      string
	SpanID       string
	ParentSpanID string
	// Links are the span ids of the linked spans, by trace id.
	Links      []Link
	Attributes map[string]string
	// Events holds the names and attributes of the span's events
	// (exceptions recorded, say).
	Events []Event
	Error  bool
}

// Link is a link of a span to another.
type Link struct {
	TraceID, SpanID string
	Attributes      map[string]string
}

// Event is an event of a span.
type Event struct {
	Name       string
	Attributes map[string]string
}

// Sink receives spans. Its zero value counts them; New(true) keeps them.
type Sink struct {
	coltracepb.UnimplementedTraceServiceServer

	keep bool

	mu       sync.Mutex
	spans    []Span
	count    int
	requests int
	headers  []http.Header
}

// New returns a sink that keeps the spans and the headers of each request
// when keep, and only counts them otherwise.
func New(keep bool) *Sink { return &Sink{keep: keep} }

// ServeHTTP takes POST /v1/traces as the OTLP/HTTP exporter sends it.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "only application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, maxBody)
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer gz.Close()
		body = io.LimitReader(gz, maxBody)
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.add(&req, r.Header.Clone())
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// Export takes an export over gRPC (register the sink with
// coltracepb.RegisterTraceServiceServer); the request's metadata are kept
// as its headers.
func (s *Sink) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	h := http.Header{}
	md, _ := metadata.FromIncomingContext(ctx)
	for k, vs := range md {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	s.add(req, h)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (s *Sink) add(req *coltracepb.ExportTraceServiceRequest, h http.Header) {
	var spans []Span
	n := 0
	for _, rs := range req.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
			if !s.keep {
				continue
			}
			for _, sp := range ss.GetSpans() {
				out := Span{Resource: res, Scope: ss.GetScope().GetName(), Name: sp.GetName(),
					Kind:    strings.TrimPrefix(sp.GetKind().String(), "SPAN_KIND_"),
					TraceID: hex.EncodeToString(sp.GetTraceId()), SpanID: hex.EncodeToString(sp.GetSpanId()),
					Attributes: attrs(sp.GetAttributes()), Error: sp.GetStatus().GetCode() == 2}
				if len(sp.GetParentSpanId()) > 0 {
					out.ParentSpanID = hex.EncodeToString(sp.GetParentSpanId())
				}
				for _, l := range sp.GetLinks() {
					out.Links = append(out.Links, Link{TraceID: hex.EncodeToString(l.GetTraceId()),
						SpanID: hex.EncodeToString(l.GetSpanId()), Attributes: attrs(l.GetAttributes())})
				}
				for _, e := range sp.GetEvents() {
					out.Events = append(out.Events, Event{Name: e.GetName(), Attributes: attrs(e.GetAttributes())})
				}
				spans = append(spans, out)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.count += n
	if s.keep {
		s.spans = append(s.spans, spans...)
		s.headers = append(s.headers, h)
	}
}

// attrs renders attributes as text.
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		out[kv.GetKey()] = text(kv.GetValue())
	}
	return out
}

func text(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return hex.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, text(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return ""
}

// Spans returns the spans kept so far.
func (s *Sink) Spans() []Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Span(nil), s.spans...)
}

// Headers returns the headers of each request kept so far.
func (s *Sink) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

// Count returns how many spans and export requests arrived.
func (s *Sink) Count() (spans, requests int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count, s.requests
}
