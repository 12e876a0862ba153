package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/telemetry/otlpsink"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestTracingFromEnv(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		vars map[string]string
		want telemetry.TracingConfig
	}{
		{"offWithoutEndpoint", nil, telemetry.TracingConfig{}},
		{"httpAppendsTheTracesPath", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
			telemetry.TracingConfig{Endpoint: "http://collector:4318/v1/traces"}},
		{"tracesEndpointAsIs", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example.com/otlp/spans"},
			telemetry.TracingConfig{Endpoint: "https://traces.example.com/otlp/spans"}},
		{"grpcEndpointAsIs", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			telemetry.TracingConfig{Endpoint: "http://collector:4317", Protocol: telemetry.ProtocolGRPC}},
		{"tracesProtocolWins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
			telemetry.TracingConfig{Endpoint: "http://collector:4317", Protocol: telemetry.ProtocolGRPC}},
		{"headersDecoded", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
			"OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cr%3Dt, x-team = tickets ,"},
			telemetry.TracingConfig{Endpoint: "http://c:4318/v1/traces", Headers: map[string]string{"api-key": "s3cr=t", "x-team": "tickets"}}},
		{"tracesHeadersWin", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
			"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2"},
			telemetry.TracingConfig{Endpoint: "http://c:4318/v1/traces", Headers: map[string]string{"b": "2"}}},
		{"timeoutAndCompression", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
			"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"},
			telemetry.TracingConfig{Endpoint: "http://c:4318/v1/traces", Timeout: 2500 * time.Millisecond, Compression: "gzip"}},
		{"resourceAndServiceName", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
			"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,deployment.environment.name=prod,team=box%20office"},
			telemetry.TracingConfig{Endpoint: "http://c:4318/v1/traces", ServiceName: "from-attrs",
				Resource: []attribute.KeyValue{attribute.String("deployment.environment.name", "prod"), attribute.String("team", "box office")}}},
		{"serviceNameWins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
			"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs", "OTEL_SERVICE_NAME": "ticketd-eu"},
			telemetry.TracingConfig{Endpoint: "http://c:4318/v1/traces", ServiceName: "ticketd-eu"}},
		{"ratioSampler", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"},
			telemetry.TracingConfig{Endpoint: "http://c:4318/v1/traces", Sampler: telemetry.SamplerParentBasedTraceIDRatio, SamplerArg: 0.01}},
		{"sdkDisabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"},
			telemetry.TracingConfig{}},
		{"exporterNone", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
			telemetry.TracingConfig{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := telemetry.TracingFromEnv(env(c.vars))
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			// The defaults, unless the case says otherwise.
			if want.Protocol == "" {
				want.Protocol = telemetry.ProtocolHTTP
			}
			if want.Timeout == 0 {
				want.Timeout = 10 * time.Second
			}
			if want.Sampler == "" {
				want.Sampler, want.SamplerArg = telemetry.SamplerParentBasedAlwaysOn, 1
			}
			if want.Headers == nil {
				want.Headers = map[string]string{}
			}
			if !want.Enabled() {
				// Off is off, whatever else was read.
				if got.Enabled() {
					t.Fatalf("enabled: %+v", got)
				}
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestTracingFromEnvRefusesNonsenseWithoutQuotingHeaders(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, key, value, mention string
	}{
		{"protocol", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"endpointScheme", "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317", "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"headerEntry", "OTEL_EXPORTER_OTLP_HEADERS", "api-key=ok,sup3r-s3cret-token", "entry 2"},
		{"headerEncoding", "OTEL_EXPORTER_OTLP_HEADERS", "api-key=sup3r-s3cret-token%zz", "entry 1 (api-key)"},
		{"timeout", "OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{"compression", "OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "OTEL_EXPORTER_OTLP_COMPRESSION"},
		{"sampler", "OTEL_TRACES_SAMPLER", "jaeger_remote", "OTEL_TRACES_SAMPLER"},
		{"exporter", "OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER"},
		{"disabled", "OTEL_SDK_DISABLED", "maybe", "OTEL_SDK_DISABLED"},
		{"resource", "OTEL_RESOURCE_ATTRIBUTES", "=x", "OTEL_RESOURCE_ATTRIBUTES"},
	} {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", c.key: c.value}
			_, err := telemetry.TracingFromEnv(env(vars))
			if err == nil || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("got %v, want an error naming %s", err, c.mention)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error quotes a header: %v", err)
			}
		})
	}
	_, err := telemetry.TracingFromEnv(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
		"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}))
	if err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER_ARG") {
		t.Fatalf("ratio 1.5: %v", err)
	}
}

func TestTracingConfigLogsNoHeaderValue(t *testing.T) {
	t.Parallel()
	cfg, err := telemetry.TracingFromEnv(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:pw-in-url@c:4318",
		"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20sup3r-s3cret,x-team=tickets"}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("tracing", "tracing", cfg)
	log := buf.String()
	for _, secret := range []string{"sup3r-s3cret", "pw-in-url"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log line holds %q: %s", secret, log)
		}
	}
	for _, want := range []string{`"enabled":true`, `"headers":["authorization","x-team"]`, `c:4318/v1/traces`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log line lacks %s: %s", want, log)
		}
	}
}

// startGRPCSink serves sink over OTLP/gRPC on a loopback port and returns
// its endpoint URL.
func startGRPCSink(t *testing.T, sink *otlpsink.Sink) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, sink)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	return "http://" + ln.Addr().String()
}

// TestSpansReachTheCollectorOverHTTPAndGRPC exports through each protocol
// to a real receiver, with the resource and the headers configured.
func TestSpansReachTheCollectorOverHTTPAndGRPC(t *testing.T) {
	t.Parallel()
	for _, protocol := range []string{telemetry.ProtocolHTTP, telemetry.ProtocolGRPC} {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			sink := otlpsink.New(true)
			var endpoint string
			if protocol == telemetry.ProtocolGRPC {
				endpoint = startGRPCSink(t, sink)
			} else {
				srv := httptest.NewServer(sink)
				t.Cleanup(srv.Close)
				endpoint = srv.URL
			}
			cfg, err := telemetry.TracingFromEnv(env(map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":    endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL":    protocol,
				"OTEL_EXPORTER_OTLP_HEADERS":     "x-api-key=k%2C1",
				"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
				"OTEL_SERVICE_NAME":              "ticketd-test",
				"OTEL_RESOURCE_ATTRIBUTES":       "deployment.environment.name=ci",
			}))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := telemetry.NewTracing(context.Background(), cfg, "v1.2.3")
			if err != nil {
				t.Fatal(err)
			}
			_, span := tr.Provider().Tracer("test").Start(context.Background(), "GET /v1/events")
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			spans := sink.Spans()
			if len(spans) != 1 || spans[0].Name != "GET /v1/events" {
				t.Fatalf("received %+v", spans)
			}
			for k, want := range map[string]string{"service.name": "ticketd-test", "service.version": "v1.2.3",
				"deployment.environment.name": "ci", "telemetry.sdk.language": "go"} {
				if got := spans[0].Resource[k]; got != want {
					t.Errorf("resource %s = %q, want %q", k, got, want)
				}
			}
			if h := sink.Headers(); len(h) == 0 || h[0].Get("x-api-key") != "k,1" {
				t.Errorf("headers received: %v", h)
			}
		})
	}
}

// TestRatioSamplerSamplesItsShareOfRoots: OTEL_TRACES_SAMPLER_ARG works,
// and a parent's decision is followed.
func TestRatioSamplerSamplesItsShareOfRoots(t *testing.T) {
	t.Parallel()
	sink := otlpsink.New(false)
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		arg      string
		min, max int
	}{{"0", 0, 0}, {"0.5", 800, 1200}, {"1", 2000, 2000}} {
		cfg, err := telemetry.TracingFromEnv(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL,
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": c.arg}))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := telemetry.NewTracing(context.Background(), cfg, "test")
		if err != nil {
			t.Fatal(err)
		}
		tracer := tr.Provider().Tracer("test")
		sampled := 0
		for range 2000 {
			ctx, root := tracer.Start(context.Background(), "root")
			_, child := tracer.Start(ctx, "child")
			if root.SpanContext().IsSampled() {
				sampled++
			}
			if child.SpanContext().IsSampled() != root.SpanContext().IsSampled() {
				t.Fatalf("ratio %s: a child decided apart from its parent", c.arg)
			}
			child.End()
			root.End()
		}
		if sampled < c.min || sampled > c.max {
			t.Errorf("ratio %s: %d of 2000 roots sampled, want %d to %d", c.arg, sampled, c.min, c.max)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := tr.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
}

func TestTraceLogHandlerAddsTheSpanOfTheContext(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(telemetry.TraceLogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	logger.InfoContext(ctx, "inside")
	logger.InfoContext(context.Background(), "outside")
	logger.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	var inside map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &inside); err != nil {
		t.Fatal(err)
	}
	sc := span.SpanContext()
	if inside["trace_id"] != sc.TraceID().String() || inside["span_id"] != sc.SpanID().String() || inside["component"] != "test" {
		t.Errorf("inside the span: %s", lines[0])
	}
	for _, l := range lines[1:] {
		if strings.Contains(l, "trace_id") || strings.Contains(l, "span_id") {
			t.Errorf("outside any span: %s", l)
		}
	}
}

func TestChildSpansOnlyStartsNoTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	children := telemetry.ChildSpansOnly(tp).Tracer("redis")

	_, orphan := children.Start(context.Background(), "poll")
	orphan.End()
	if orphan.IsRecording() || len(exp.GetSpans()) != 0 {
		t.Fatalf("a span without a parent was recorded: %v", exp.GetSpans())
	}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	_, child := children.Start(ctx, "evalsha")
	child.End()
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "evalsha" || spans[0].Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("spans: %v", spans)
	}
	if !trace.SpanFromContext(ctx).SpanContext().Equal(parent.SpanContext()) {
		t.Fatal("context lost its span")
	}
}
