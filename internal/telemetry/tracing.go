package telemetry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/redact"
)

// OTLP protocols (OTEL_EXPORTER_OTLP_PROTOCOL).
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// Samplers (OTEL_TRACES_SAMPLER).
const (
	SamplerAlwaysOn                = "always_on"
	SamplerAlwaysOff               = "always_off"
	SamplerTraceIDRatio            = "traceidratio"
	SamplerParentBasedAlwaysOn     = "parentbased_always_on"
	SamplerParentBasedAlwaysOff    = "parentbased_always_off"
	SamplerParentBasedTraceIDRatio = "parentbased_traceidratio"
)

var samplers = []string{SamplerAlwaysOn, SamplerAlwaysOff, SamplerTraceIDRatio,
	SamplerParentBasedAlwaysOn, SamplerParentBasedAlwaysOff, SamplerParentBasedTraceIDRatio}

// TracingConfig is where and how spans are exported, read from the
// standard OTEL_* variables by TracingFromEnv.
type TracingConfig struct {
	// Endpoint is the URL spans are sent to: the traces URL itself over
	// HTTP (…/v1/traces), the collector's over gRPC. Empty: tracing is off.
	Endpoint string
	// Protocol is ProtocolHTTP or ProtocolGRPC.
	Protocol string
	// Headers go with every export. They carry the backend's API keys:
	// never log their values.
	Headers map[string]string
	// Timeout bounds one export; Compression is "gzip" or "".
	Timeout     time.Duration
	Compression string
	// ServiceName is OTEL_SERVICE_NAME (or service.name of
	// OTEL_RESOURCE_ATTRIBUTES); empty: the command's own.
	ServiceName string
	// Resource holds the other attributes of OTEL_RESOURCE_ATTRIBUTES.
	Resource []attribute.KeyValue
	// Sampler is one of the Sampler constants; SamplerArg the ratio of the
	// ratio samplers.
	Sampler    string
	SamplerArg float64
}

// Enabled reports whether spans are exported at all. When they are not,
// nothing is instrumented.
func (c TracingConfig) Enabled() bool { return c.Endpoint != "" }

// LogValue implements slog.LogValuer: where spans go, without the
// headers' values or any password in the endpoint.
func (c TracingConfig) LogValue() slog.Value {
	if !c.Enabled() {
		return slog.GroupValue(slog.Bool("enabled", false))
	}
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	sampler := c.Sampler
	if strings.HasSuffix(sampler, "traceidratio") {
		sampler += " " + strconv.FormatFloat(c.SamplerArg, 'g', -1, 64)
	}
	return slog.GroupValue(
		slog.Bool("enabled", true),
		slog.String("endpoint", redact.URL(c.Endpoint)),
		slog.String("protocol", c.Protocol),
		slog.Any("headers", names),
		slog.String("serviceName", c.ServiceName),
		slog.String("sampler", sampler),
	)
}

// TracingFromEnv reads the OpenTelemetry variables through getenv:
// OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (otlp or none),
// OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _PROTOCOL (http/protobuf
// or grpc), _TIMEOUT (ms) and _COMPRESSION, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
// The SDK would read some of them from the process's environment itself;
// reading them here keeps one source of configuration, which tests can
// pass. Errors never quote a header's value.
func TracingFromEnv(getenv func(string) string) (TracingConfig, error) {
	get := func(key string) string { return strings.TrimSpace(getenv(key)) }
	// traces returns the traces-only variable, else the general one.
	traces := func(name string) string {
		return cmp.Or(get("OTEL_EXPORTER_OTLP_TRACES_"+name), get("OTEL_EXPORTER_OTLP_"+name))
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	c := TracingConfig{Protocol: ProtocolHTTP, Timeout: 10 * time.Second, Sampler: SamplerParentBasedAlwaysOn, SamplerArg: 1}
	if p := traces("PROTOCOL"); p != "" {
		if p != ProtocolHTTP && p != ProtocolGRPC {
			fail("OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or grpc, got %q", p)
		}
		c.Protocol = p
	}
	switch endpoint := get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); {
	case endpoint != "":
		c.Endpoint = endpoint
	case get("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		c.Endpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT")
		if c.Protocol == ProtocolHTTP {
			// The general endpoint is the collector's base URL; each signal
			// has its path under it.
			c.Endpoint = strings.TrimSuffix(c.Endpoint, "/") + "/v1/traces"
		}
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			fail("OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL such as http://otel-collector:4318")
		}
	}
	headers, err := parseKeyValues(traces("HEADERS"))
	if err != nil {
		fail("OTEL_EXPORTER_OTLP_HEADERS %v", err)
	}
	c.Headers = headers
	if v := traces("TIMEOUT"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			fail("OTEL_EXPORTER_OTLP_TIMEOUT must be a positive number of milliseconds, got %q", v)
		} else {
			c.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	switch v := traces("COMPRESSION"); v {
	case "", "none":
	case "gzip":
		c.Compression = v
	default:
		fail("OTEL_EXPORTER_OTLP_COMPRESSION must be gzip or none, got %q", v)
	}

	resAttrs, err := parseKeyValues(get("OTEL_RESOURCE_ATTRIBUTES"))
	if err != nil {
		fail("OTEL_RESOURCE_ATTRIBUTES %v", err)
	}
	keys := make([]string, 0, len(resAttrs))
	for k := range resAttrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == string(semconv.ServiceNameKey) {
			c.ServiceName = resAttrs[k]
			continue
		}
		c.Resource = append(c.Resource, attribute.String(k, resAttrs[k]))
	}
	c.ServiceName = cmp.Or(get("OTEL_SERVICE_NAME"), c.ServiceName)

	if s := strings.ToLower(get("OTEL_TRACES_SAMPLER")); s != "" {
		if !slices.Contains(samplers, s) {
			fail("OTEL_TRACES_SAMPLER must be one of %s, got %q", strings.Join(samplers, ", "), s)
		}
		c.Sampler = s
	}
	if v := get("OTEL_TRACES_SAMPLER_ARG"); v != "" && strings.HasSuffix(c.Sampler, "traceidratio") {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1 {
			fail("OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got %q", v)
		} else {
			c.SamplerArg = r
		}
	}

	switch exporter := strings.ToLower(get("OTEL_TRACES_EXPORTER")); exporter {
	case "", "otlp":
	case "none":
		c.Endpoint = ""
	default:
		fail("OTEL_TRACES_EXPORTER must be otlp or none, got %q", exporter)
	}
	if disabled := get("OTEL_SDK_DISABLED"); disabled != "" {
		off, err := strconv.ParseBool(disabled)
		if err != nil {
			fail("OTEL_SDK_DISABLED must be true or false, got %q", disabled)
		}
		if off {
			c.Endpoint = ""
		}
	}
	if len(problems) > 0 {
		return TracingConfig{}, errors.New(strings.Join(problems, "; "))
	}
	return c, nil
}

// parseKeyValues reads the k1=v1,k2=v2 lists of OTEL_EXPORTER_OTLP_HEADERS
// and OTEL_RESOURCE_ATTRIBUTES, whose values are percent-encoded. Its
// errors name the entry by position, never by its value.
func parseKeyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for i, entry := range strings.Split(s, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		k, v, ok := strings.Cut(entry, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %d is not key=value", i+1)
		}
		value, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("entry %d (%s) is not percent-encoded", i+1, k)
		}
		out[k] = value
	}
	return out, nil
}

// sampler builds the configured sampler.
func (c TracingConfig) sampler() sdktrace.Sampler {
	switch c.Sampler {
	case SamplerAlwaysOn:
		return sdktrace.AlwaysSample()
	case SamplerAlwaysOff:
		return sdktrace.NeverSample()
	case SamplerTraceIDRatio:
		return sdktrace.TraceIDRatioBased(c.SamplerArg)
	case SamplerParentBasedAlwaysOff:
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case SamplerParentBasedTraceIDRatio:
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SamplerArg))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

// Tracing is the tracer provider of a process. A nil *Tracing is tracing
// switched off: Provider returns nil and Shutdown does nothing, and every
// component given a nil provider installs no instrumentation at all.
type Tracing struct {
	provider *sdktrace.TracerProvider
}

// NewTracing exports spans as cfg says, batched, on behalf of the service
// cfg.ServiceName at version. It returns nil when cfg is not enabled. The
// provider is not made the global one: components are handed it.
func NewTracing(ctx context.Context, cfg TracingConfig, version string) (*Tracing, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	exporter, err := newExporter(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(append(slices.Clone(cfg.Resource),
		semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(version))...))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return NewTracingWith(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res), sdktrace.WithSampler(cfg.sampler())), nil
}

// NewTracingWith is a Tracing over a provider with opts, such as a test's
// in-memory exporter (sdktrace.WithSyncer).
func NewTracingWith(opts ...sdktrace.TracerProviderOption) *Tracing {
	return &Tracing{provider: sdktrace.NewTracerProvider(opts...)}
}

func newExporter(ctx context.Context, cfg TracingConfig) (sdktrace.SpanExporter, error) {
	if cfg.Protocol == ProtocolGRPC {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(cfg.Endpoint), otlptracegrpc.WithTimeout(cfg.Timeout),
			otlptracegrpc.WithHeaders(cfg.Headers)}
		if cfg.Compression != "" {
			opts = append(opts, otlptracegrpc.WithCompressor(cfg.Compression))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(cfg.Endpoint), otlptracehttp.WithTimeout(cfg.Timeout),
		otlptracehttp.WithHeaders(cfg.Headers)}
	if cfg.Compression == "gzip" {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	} else {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.NoCompression))
	}
	return otlptracehttp.New(ctx, opts...)
}

// Provider is the tracer provider, nil when tracing is off.
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.provider
}

// Shutdown exports the spans still buffered and stops the exporter, within
// ctx's deadline.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// AttrTenant is the span attribute naming the tenant (its id) that a
// request or a task acts for.
const AttrTenant = attribute.Key("ticketd.tenant")

// Propagator carries the trace context between processes: the W3C
// traceparent and tracestate, nothing else (no baggage, which callers
// could fill with anything).
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// ChildSpansOnly wraps tp so that its tracers start spans only inside a
// trace: with no span in the context they start none. Clients shared with
// background loops (asynq's polling of Redis, say) then trace the work of
// requests and tasks without making a trace of every poll.
func ChildSpansOnly(tp trace.TracerProvider) trace.TracerProvider {
	return childOnlyProvider{tp}
}

type childOnlyProvider struct{ trace.TracerProvider }

func (p childOnlyProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childOnlyTracer{p.TracerProvider.Tracer(name, opts...)}
}

type childOnlyTracer struct{ trace.Tracer }

func (t childOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.Tracer.Start(ctx, name, opts...)
}
