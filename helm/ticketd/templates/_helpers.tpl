{{/* Chart name, truncated to the 63 characters Kubernetes allows in names. */}}
{{- define "ticketd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name; leaves room for the -api / -worker / -migrate suffixes. */}}
{{- define "ticketd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ticketd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ticketd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ticketd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ticketd.labels" -}}
helm.sh/chart: {{ include "ticketd.chart" . }}
{{ include "ticketd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ticketd
{{- end }}

{{- define "ticketd.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Secret with PLATFORM_API_KEY, JWT_SECRET, DATABASE_URL, REDIS_URL and, optionally, PAYSTACK_SECRET_KEY,
SMTP_URL and DATABASE_READ_URL. */}}
{{- define "ticketd.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "ticketd.fullname" .) }}
{{- end }}

{{/* Secret with MIGRATIONS_DATABASE_URL, read by the migration hook only. */}}
{{- define "ticketd.migrateSecretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-migrate" (include "ticketd.fullname" .)) }}
{{- end }}

{{- define "ticketd.publicURL" -}}
{{- .Values.publicURL | default (printf "https://%s" .Values.platformDomain) }}
{{- end }}

{{/* The container port of /metrics (METRICS_ADDR), always set: unset, ticketd would serve /metrics on
the port the ingress routes to. */}}
{{- define "ticketd.metricsPort" -}}
{{- .Values.metrics.port | default 9090 }}
{{- end }}

{{/* The container port of the worker's /metrics, /healthz and /readyz (its METRICS_ADDR). */}}
{{- define "ticketd.workerMetricsPort" -}}
{{- .Values.worker.metricsPort | default 9091 }}
{{- end }}

{{/* Fails the render when a required value is missing. */}}
{{- define "ticketd.validate" -}}
{{- if not .Values.platformDomain }}
{{- fail "platformDomain is required (tenants are served at <slug>.<platformDomain>)" }}
{{- end }}
{{- with .Values.api }}
{{- if lt (int .terminationGracePeriodSeconds) (add .preStopSleepSeconds .drainDelaySeconds .shutdownTimeoutSeconds | int) }}
{{- fail "api.terminationGracePeriodSeconds must be at least api.preStopSleepSeconds + api.drainDelaySeconds + api.shutdownTimeoutSeconds, or pods are killed with requests in flight" }}
{{- end }}
{{- if lt (int .shutdownTimeoutSeconds) 1 }}
{{- fail "api.shutdownTimeoutSeconds must be at least 1" }}
{{- end }}
{{- end }}
{{- with .Values.worker }}
{{- if and .enabled (lt (int .terminationGracePeriodSeconds) (add .preStopSleepSeconds .shutdownTimeoutSeconds | int)) }}
{{- fail "worker.terminationGracePeriodSeconds must be at least worker.preStopSleepSeconds + worker.shutdownTimeoutSeconds, or pods are killed before they hand their tasks back" }}
{{- end }}
{{- if lt (int .shutdownTimeoutSeconds) 1 }}
{{- fail "worker.shutdownTimeoutSeconds must be at least 1" }}
{{- end }}
{{- end }}
{{- if not (has .Values.config.databasePoolMode (list "session" "transaction")) }}
{{- fail "config.databasePoolMode must be session or transaction" }}
{{- end }}
{{- if eq (include "ticketd.metricsPort" . | int) (.Values.api.port | int) }}
{{- fail "metrics.port must differ from api.port: the ingress routes to api.port, and /metrics must not be reachable through it" }}
{{- end }}
{{- if not .Values.secrets.existingSecret }}
{{- if lt (len .Values.secrets.platformApiKey) 16 }}
{{- fail "secrets.platformApiKey must be at least 16 characters (or set secrets.existingSecret)" }}
{{- end }}
{{- if lt (len .Values.secrets.jwtSecret) 32 }}
{{- fail "secrets.jwtSecret must be at least 32 characters (or set secrets.existingSecret)" }}
{{- end }}
{{- if lt (len .Values.secrets.ticketSigningSecret) 32 }}
{{- fail "secrets.ticketSigningSecret must be at least 32 characters (or set secrets.existingSecret)" }}
{{- end }}
{{- if lt (len .Values.secrets.waitingRoomSecret) 32 }}
{{- fail "secrets.waitingRoomSecret must be at least 32 characters (or set secrets.existingSecret)" }}
{{- end }}
{{- if not .Values.secrets.databaseUrl }}
{{- fail "secrets.databaseUrl is required (or set secrets.existingSecret)" }}
{{- end }}
{{- if not .Values.secrets.redisUrl }}
{{- fail "secrets.redisUrl is required (or set secrets.existingSecret)" }}
{{- end }}
{{- if and .Values.migrate.enabled (not .Values.secrets.migrationsDatabaseUrl) }}
{{- fail "secrets.migrationsDatabaseUrl is required while migrate.enabled (or set secrets.existingSecret)" }}
{{- end }}
{{- with .Values.secrets.paystackSecretKey }}
{{- if not (or (hasPrefix "sk_test_" .) (hasPrefix "sk_live_" .)) }}
{{- fail "secrets.paystackSecretKey must be a Paystack secret key (sk_test_... or sk_live_...)" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Environment shared by every ticketd container that reads the app secret.
PAYSTACK_SECRET_KEY is optional, as it is for ticketd: without it payments answer 503 and webhooks are
refused, but the pods start (so does an existingSecret written before payments existed). */}}
{{- define "ticketd.secretEnv" -}}
- name: PLATFORM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketd.secretName" . }}
      key: PLATFORM_API_KEY
- name: JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketd.secretName" . }}
      key: JWT_SECRET
- name: TICKET_SIGNING_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketd.secretName" . }}
      key: TICKET_SIGNING_SECRET
- name: WAITING_ROOM_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketd.secretName" . }}
      key: WAITING_ROOM_SECRET
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketd.secretName" . }}
      key: DATABASE_URL
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketd.secretName" . }}
      key: REDIS_URL
- name: PAYSTACK_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketd.secretName" . }}
      key: PAYSTACK_SECRET_KEY
      optional: true
- name: SMTP_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketd.secretName" . }}
      key: SMTP_URL
      optional: true
{{- end }}

{{/* The read replica's URL, for the API pods only: the worker never reads through it, and its /readyz
would fail with the replica. Optional, as SMTP_URL is. */}}
{{- define "ticketd.readReplicaEnv" -}}
- name: DATABASE_READ_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "ticketd.secretName" . }}
      key: DATABASE_READ_URL
      optional: true
{{- end }}

{{/*
The OTLP exporter's headers (a vendor's credential), from the Secret tracing.headersSecret names.
*/}}
{{- define "ticketd.tracingEnv" -}}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.tracing.headersSecret.name }}
      key: {{ .Values.tracing.headersSecret.key }}
{{- end }}
