{{/* The one name every object carries (as in deploy/). */}}
{{- define "hnre.name" -}}harmony-node-readiness-endpoint{{- end -}}

{{- define "hnre.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/* Selector labels: exactly deploy/'s, so a kustomize install can be
     taken over by the chart (selectors are immutable). */}}
{{- define "hnre.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hnre.name" . }}
{{- end -}}

{{/* Object labels: deploy/'s plus Helm's two bookkeeping labels. */}}
{{- define "hnre.labels" -}}
{{ include "hnre.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Whether the host's / is mounted (host files or the runtime socket). */}}
{{- define "hnre.hostRoot" -}}
{{- if or .Values.hostAccess.filesystem .Values.hostAccess.containerRuntime }}true{{ end -}}
{{- end -}}

{{/* The Service of the ServiceMonitor. */}}
{{- define "hnre.metricsService" -}}{{ include "hnre.name" . }}-metrics{{- end -}}
