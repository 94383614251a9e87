{{/*
Names, labels and the values every template derives from: computed once here so that the
ConfigMap, the RBAC rules and the webhook configurations can never disagree.
*/}}

{{- define "session-guard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "session-guard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "session-guard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "session-guard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "session-guard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "session-guard.labels" -}}
helm.sh/chart: {{ include "session-guard.chart" . }}
{{ include "session-guard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: session-guard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "session-guard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "session-guard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: pinned by tag (never latest), optionally by digest too. */}}
{{- define "session-guard.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag | toString }}
{{- if eq $tag "latest" }}
{{- fail "image.tag must pin a released version, not latest" }}
{{- end }}
{{- $ref := printf "%s:%s" .Values.image.repository $tag }}
{{- if .Values.image.digest }}
{{- $ref = printf "%s@%s" $ref .Values.image.digest }}
{{- end }}
{{- $ref }}
{{- end }}

{{/* The in-cluster DNS name the API server calls, and what the serving certificate must cover. */}}
{{- define "session-guard.serviceHost" -}}
{{- printf "%s.%s.svc" (include "session-guard.fullname" .) .Release.Namespace }}
{{- end }}

{{- define "session-guard.serviceDNSNames" -}}
{{- $service := include "session-guard.fullname" . }}
{{- toYaml (list $service (printf "%s.%s" $service .Release.Namespace) (include "session-guard.serviceHost" .) (printf "%s.cluster.local" (include "session-guard.serviceHost" .))) }}
{{- end }}

{{- define "session-guard.tlsSecretName" -}}
{{- if eq .Values.tls.mode "existingSecret" }}
{{- required "tls.existingSecret.name is required when tls.mode is existingSecret" .Values.tls.existingSecret.name }}
{{- else }}
{{- printf "%s-tls" (include "session-guard.fullname" .) }}
{{- end }}
{{- end }}

{{- define "session-guard.servingCertificateName" -}}
{{- printf "%s-serving" (include "session-guard.fullname" .) }}
{{- end }}

{{/* The cert-manager issuer that signs the serving certificate: the admin's, or the release's own CA. */}}
{{- define "session-guard.certManagerIssuerRef" -}}
{{- with .Values.tls.certManager.issuerRef }}
{{- if .name }}
name: {{ .name }}
kind: {{ .kind }}
group: {{ .group }}
{{- end }}
{{- end }}
{{- if not .Values.tls.certManager.issuerRef.name }}
name: {{ include "session-guard.fullname" . }}-ca
kind: Issuer
group: cert-manager.io
{{- end }}
{{- end }}

{{/*
The Helm-generated CA and serving certificate, as YAML {ca, cert, key} (each base64 of PEM).
An existing Secret is reused so upgrades keep the certificate (lookup sees nothing under
`helm template` and dry runs, which therefore generate a fresh pair). The pair is generated once
per render and cached on the shared .Release map, so the Secret and the webhook configurations
that include this from different templates get the same CA.
*/}}
{{- define "session-guard.helmTLS" -}}
{{- if not (hasKey .Release "sessionGuardHelmTLS") }}
{{- $secretName := include "session-guard.tlsSecretName" . }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $secretName }}
{{- $data := dict }}
{{- if $existing }}
{{- $data = $existing.data | default dict }}
{{- end }}
{{- $pair := dict }}
{{- if and (index $data "ca.crt") (index $data "tls.crt") (index $data "tls.key") }}
{{- $pair = dict "ca" (index $data "ca.crt") "cert" (index $data "tls.crt") "key" (index $data "tls.key") }}
{{- else }}
{{- $days := int .Values.tls.helm.validityDays }}
{{- $ca := genCA (printf "%s-ca" (include "session-guard.fullname" .)) $days }}
{{- $dnsNames := fromYamlArray (include "session-guard.serviceDNSNames" .) }}
{{- $cert := genSignedCert (include "session-guard.serviceHost" .) nil $dnsNames $days $ca }}
{{- $pair = dict "ca" ($ca.Cert | b64enc) "cert" ($cert.Cert | b64enc) "key" ($cert.Key | b64enc) }}
{{- end }}
{{- $_ := set .Release "sessionGuardHelmTLS" $pair }}
{{- end }}
{{- toYaml (get .Release "sessionGuardHelmTLS") }}
{{- end }}

{{/* tls.caBundle as the base64 of PEM that clientConfig.caBundle wants, whichever form was given. */}}
{{- define "session-guard.providedCABundle" -}}
{{- $bundle := trim .Values.tls.caBundle }}
{{- if contains "-----BEGIN" $bundle }}
{{- printf "%s\n" $bundle | b64enc }}
{{- else }}
{{- nospace $bundle }}
{{- end }}
{{- end }}

{{/* The caBundle of the webhook configurations; empty when cert-manager's cainjector fills it. */}}
{{- define "session-guard.caBundle" -}}
{{- if .Values.webhook.url }}
{{- $_ := required "tls.caBundle is required when webhook.url is set: the CA that signed the out-of-cluster webhook's certificate" .Values.tls.caBundle }}
{{- include "session-guard.providedCABundle" . }}
{{- else if eq .Values.tls.mode "helm" }}
{{- (fromYaml (include "session-guard.helmTLS" .)).ca }}
{{- else if eq .Values.tls.mode "existingSecret" }}
{{- $_ := required "tls.caBundle is required when tls.mode is existingSecret: the CA that signed the Secret's certificate" .Values.tls.caBundle }}
{{- include "session-guard.providedCABundle" . }}
{{- end }}
{{- end }}

{{/* Where the API server sends an AdmissionReview: the Service, or webhook.url in development. */}}
{{- define "session-guard.clientConfig" -}}
{{- $root := index . 0 }}
{{- $path := index . 1 }}
{{- with $root }}
{{- if .Values.webhook.url }}
url: {{ printf "%s%s" (trimSuffix "/" .Values.webhook.url) $path | quote }}
{{- else }}
service:
  name: {{ include "session-guard.fullname" . }}
  namespace: {{ .Release.Namespace }}
  path: {{ $path }}
  port: {{ .Values.webhook.service.port }}
{{- end }}
{{- with include "session-guard.caBundle" . }}
caBundle: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* cert-manager fills caBundle from the serving Certificate's Secret. */}}
{{- define "session-guard.webhookAnnotations" -}}
{{- if and (eq .Values.tls.mode "certManager") (not .Values.webhook.url) }}
cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "session-guard.servingCertificateName" .) }}
{{- end }}
{{- end }}

{{/* The username the sync sidecar's API requests carry. */}}
{{- define "session-guard.syncUsername" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "session-guard.serviceAccountName" .) }}
{{- end }}

{{/*
The fields both webhooks share. matchConditions keep every ServiceAccount without an annotation
under the prefix out of the webhook's path (so failurePolicy Fail cannot block them), and skip the
sync sidecar's own writes of the association-id annotation (so it never waits on the webhook).
`object` is null on DELETE and `oldObject` on CREATE; each is tested before it is read.
*/}}
{{- define "session-guard.webhookCommon" -}}
{{- $prefix := printf "%s/" .Values.config.annotationPrefix }}
admissionReviewVersions:
  - v1
sideEffects: None
failurePolicy: {{ .Values.webhook.failurePolicy }}
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
matchPolicy: Equivalent
rules:
  - apiGroups:
      - ""
    apiVersions:
      - v1
    operations:
      - CREATE
      - UPDATE
    resources:
      - serviceaccounts
    scope: Namespaced
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- toYaml (concat (list "kube-system" .Release.Namespace) .Values.webhook.excludedNamespaces | uniq) | nindent 8 }}
matchConditions:
  - name: has-session-guard-annotation
    expression: {{ printf "(object != null && has(object.metadata.annotations) && object.metadata.annotations.exists(k, k.startsWith('%s'))) || (oldObject != null && has(oldObject.metadata.annotations) && oldObject.metadata.annotations.exists(k, k.startsWith('%s')))" $prefix $prefix | quote }}
  {{- if .Values.sync.enabled }}
  - name: not-session-guard-sync
    expression: {{ printf "request.userInfo.username != '%s'" (include "session-guard.syncUsername" .) | quote }}
  {{- end }}
{{- end }}

{{/* Defaults computed from the release. */}}
{{- define "session-guard.leaseName" -}}
{{- default (printf "%s-sync" (include "session-guard.fullname" .)) .Values.sync.lease.name }}
{{- end }}

{{- define "session-guard.installationId" -}}
{{- default (printf "%s/%s" .Release.Namespace .Release.Name) .Values.sync.installationId }}
{{- end }}

{{/*
The config file, from values: `config` as given plus the webhook and sync settings and what the
release decides (the Lease namespace, the installation id). The one source of every setting the
program reads.
*/}}
{{- define "session-guard.configFile" -}}
{{- $config := .Values.config }}
{{- $iam := dict "cacheTtlSeconds" $config.baseRoles.iam.cacheTtlSeconds "maxStaleSeconds" $config.baseRoles.iam.maxStaleSeconds "maxRoles" $config.baseRoles.iam.maxRoles "lookupTimeoutSeconds" $config.baseRoles.iam.lookupTimeoutSeconds }}
{{- if ge (float64 $config.baseRoles.iam.lookupTimeoutSeconds) (float64 .Values.webhook.timeoutSeconds) }}
{{- fail "config.baseRoles.iam.lookupTimeoutSeconds must be less than webhook.timeoutSeconds, or the API server gives up before the webhook can answer" }}
{{- end }}
{{- with $config.baseRoles.iam.endpoint }}
{{- $_ := set $iam "endpoint" . }}
{{- end }}
{{- $guardrails := dict }}
{{- if kindIs "slice" $config.guardrails.allowedRoles }}
{{- $_ := set $guardrails "allowedRoles" $config.guardrails.allowedRoles }}
{{- end }}
{{- $webhook := dict "port" .Values.webhook.port "metricsPort" .Values.webhook.metricsPort "bodyLimitBytes" .Values.webhook.bodyLimitBytes }}
{{- $lease := dict "name" (include "session-guard.leaseName" .) "namespace" .Release.Namespace "durationSeconds" .Values.sync.lease.durationSeconds "renewSeconds" .Values.sync.lease.renewSeconds }}
{{- $sync := dict "namespaces" .Values.sync.namespaces "resyncSeconds" .Values.sync.resyncSeconds "concurrency" .Values.sync.concurrency "adoptExisting" .Values.sync.adoptExisting "restartWorkloads" .Values.sync.restartWorkloads "lease" $lease "port" .Values.sync.port "installationId" (include "session-guard.installationId" .) }}
{{- with .Values.sync.eksEndpoint }}
{{- $_ := set $sync "eksEndpoint" . }}
{{- end }}
{{- $file := dict
  "annotationPrefix" $config.annotationPrefix
  "mode" $config.mode
  "clusterName" (required "config.clusterName is required: the name of the EKS cluster" $config.clusterName)
  "region" (required "config.region is required: the AWS region of the cluster" $config.region)
  "baseRoles" (dict "source" $config.baseRoles.source "static" $config.baseRoles.static "iam" $iam)
  "guardrails" $guardrails
  "webhook" $webhook
  "sync" $sync
}}
{{- toYaml $file }}
{{- end }}
