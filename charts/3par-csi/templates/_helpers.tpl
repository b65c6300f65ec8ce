{{/*
Names. The release name is the prefix of every object; a release named like the chart keeps
the plain chart name (deploy/ is rendered as release "3par-csi").
*/}}
{{- define "3par-csi.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "3par-csi.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: pass (list $ "controller"). */}}
{{- define "3par-csi.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ $.Chart.Name }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "3par-csi.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "3par-csi.controllerServiceAccount" -}}
{{- printf "%s-controller" (include "3par-csi.fullname" .) -}}
{{- end -}}

{{- define "3par-csi.nodeServiceAccount" -}}
{{- printf "%s-node" (include "3par-csi.fullname" .) -}}
{{- end -}}

{{- define "3par-csi.backendsSecret" -}}
{{- .Values.existingBackendsSecret | default (printf "%s-backends" (include "3par-csi.fullname" .)) -}}
{{- end -}}

{{/* Name of the CHAP Secret of one backend: pass (list $ "<id>"). */}}
{{- define "3par-csi.chapSecret" -}}
{{- printf "%s-chap-%s" (include "3par-csi.fullname" (index . 0)) (index . 1) -}}
{{- end -}}

{{- define "3par-csi.simulatorName" -}}
{{- printf "%s-simulator" (include "3par-csi.fullname" .) -}}
{{- end -}}

{{/*
The backends the controller uses, as a YAML list: the values' `backends`, plus backend `sim`
(the chart's simulator) when simulator.enabled. Read it with fromYamlArray.
*/}}
{{- define "3par-csi.backends" -}}
{{- $list := list -}}
{{- range .Values.backends -}}
{{- $list = append $list . -}}
{{- end -}}
{{- if .Values.simulator.enabled -}}
{{- $url := printf "http://%s.%s.svc:%d" (include "3par-csi.simulatorName" .) .Release.Namespace (int .Values.simulator.port) -}}
{{- $list = append $list (dict "id" "sim" "url" $url "username" .Values.simulator.username "password" .Values.simulator.password) -}}
{{- end -}}
{{- toYaml $list -}}
{{- end -}}

{{/* The backend ids, comma-separated. */}}
{{- define "3par-csi.backendIds" -}}
{{- $ids := list -}}
{{- range (include "3par-csi.backends" . | fromYamlArray) -}}
{{- $ids = append $ids .id -}}
{{- end -}}
{{- join "," $ids -}}
{{- end -}}

{{/*
The backend id a class uses: pass (list $ class). Its `backend`, else its parameters' `backend`,
else the only backend, else the one marked default; fails naming the class otherwise. With
existingBackendsSecret and no `backends` listed, the chart cannot check: the class's own value,
or empty (the driver then picks the only or the default backend).
*/}}
{{- define "3par-csi.classBackend" -}}
{{- $ := index . 0 -}}
{{- $class := index . 1 -}}
{{- $backends := include "3par-csi.backends" $ | fromYamlArray -}}
{{- $id := $class.backend | default (index ($class.parameters | default dict) "backend") | default "" -}}
{{- if not $id -}}
{{- if eq (len $backends) 1 -}}
{{- $id = (first $backends).id -}}
{{- else -}}
{{- range $backends -}}
{{- if .default -}}{{- $id = .id -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $backends -}}
{{- if not $id -}}
{{- fail (printf "class %q names no backend, and no backend says default: true; set its backend" $class.name) -}}
{{- end -}}
{{- $known := false -}}
{{- range $backends -}}
{{- if eq .id $id -}}{{- $known = true -}}{{- end -}}
{{- end -}}
{{- if not $known -}}
{{- fail (printf "class %q uses backend %q, which is not in backends" $class.name $id) -}}
{{- end -}}
{{- end -}}
{{- $id -}}
{{- end -}}

{{/*
Topology, "on" or "off": one decision for the controller and every node plugin (--topology).
values `topology`: true, false, or auto (on with two or more backends or any nodeGroups). With it
on, every node plugin must know its backend ids, or it reports no segment and the volumes of the
controller (all with a backend segment) could not be scheduled there.
*/}}
{{- define "3par-csi.topology" -}}
{{- $t := .Values.topology -}}
{{- $on := false -}}
{{- if kindIs "bool" $t -}}
{{- $on = $t -}}
{{- else -}}
{{- $on = or (gt (len (include "3par-csi.backends" . | fromYamlArray)) 1) (gt (len .Values.nodeGroups) 0) -}}
{{- end -}}
{{- ternary "on" "off" $on -}}
{{- end -}}

{{/*
The access protocol a StorageClass asks for (its accessProtocol parameter, any spelling the driver
accepts, else the backend's defaultAccessProtocol, else iscsi): pass (list $ class backendId).
*/}}
{{- define "3par-csi.classProtocol" -}}
{{- $ := index . 0 -}}
{{- $class := index . 1 -}}
{{- $id := index . 2 -}}
{{- $protocol := "" -}}
{{- range $k, $v := ($class.parameters | default dict) -}}
{{- if has (lower $k) (list "accessprotocol" "access_protocol") -}}{{- $protocol = lower (toString $v) -}}{{- end -}}
{{- end -}}
{{- if not $protocol -}}
{{- range (include "3par-csi.backends" $ | fromYamlArray) -}}
{{- if and (eq .id $id) .defaultAccessProtocol -}}{{- $protocol = .defaultAccessProtocol -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $protocol | default "iscsi" -}}
{{- end -}}

{{/*
Refuses class parameters that name a Secret for a sidecar to read (csi.storage.k8s.io/*-secret-*):
the driver takes array credentials from the backends Secret only, and the controller's RBAC (as
upstream's) reads no Secret, so such a class would fail with 403 at its first volume. The
node-stage secret is the exception: kubelet reads it, not a sidecar. Pass (list kind name params
allowNodeStage).
*/}}
{{- define "3par-csi.refuseClassSecrets" -}}
{{- $kind := index . 0 -}}
{{- $name := index . 1 -}}
{{- $allowNodeStage := index . 3 -}}
{{- range $k, $_ := (index . 2 | default dict) -}}
{{- $key := lower $k -}}
{{- if and (hasPrefix "csi.storage.k8s.io/" $key) (contains "secret" $key) -}}
{{- if not (and $allowNodeStage (hasPrefix "csi.storage.k8s.io/node-stage-secret-" $key)) -}}
{{- fail (printf "%s %q: parameter %q names a Secret that a sidecar would have to read. 3par-csi takes array credentials only from the backends Secret and its RBAC (the sidecars' own) reads no Secret; remove the parameter (for iSCSI CHAP set chap on the backend: the chart then adds the node-stage secret)" $kind $name $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The chap settings of one backend id as YAML ({} when none): pass (list $ id). */}}
{{- define "3par-csi.backendChap" -}}
{{- $ := index . 0 -}}
{{- $id := index . 1 -}}
{{- $chap := dict -}}
{{- range (include "3par-csi.backends" $ | fromYamlArray) -}}
{{- if and (eq .id $id) .chap -}}{{- $chap = .chap -}}{{- end -}}
{{- end -}}
{{- toYaml $chap -}}
{{- end -}}

{{/*
Checks across values that values.schema.json cannot express. Included by the controller
Deployment, so every render runs it.
*/}}
{{- define "3par-csi.validate" -}}
{{- $backends := include "3par-csi.backends" . | fromYamlArray -}}
{{- /* Shapes a JSON-schema pattern would only report as "Does not match pattern": each message
says what to write instead (the likely slips: a tag in the repository, python-3parclient's
https://host:8080/api/v1 or HPE's bare IP as url, a file path as caCert). */ -}}
{{- if not (regexMatch "^[^\\s:@]+(:[0-9]+/[^\\s:@]+)?$" .Values.image.repository) -}}
{{- fail (printf "image.repository %q: give the registry and path only, e.g. registry.example.com/storage/3par-csi, and the tag in image.tag" .Values.image.repository) -}}
{{- end -}}
{{- range $i, $b := .Values.backends -}}
{{- if and (hasKey $b "url") (not (regexMatch "^https?://[^/\\s]+/?$" (toString $b.url))) -}}
{{- fail (printf "backends.%d.url %q: give the WSAPI base URL, scheme, host and port with no path, e.g. https://3par-a.example.com:8080 (the driver adds /api/v1)" $i $b.url) -}}
{{- end -}}
{{- if and (hasKey $b "caCert") (not (contains "-----BEGIN CERTIFICATE-----" (toString $b.caCert))) -}}
{{- fail (printf "backends.%d.caCert: give the PEM text of the CA bundle (-----BEGIN CERTIFICATE----- ...), not a file name; e.g. --set-file backends[%d].caCert=ca.pem" $i $i) -}}
{{- end -}}
{{- end -}}
{{- if and (eq (len $backends) 0) (not .Values.existingBackendsSecret) -}}
{{- fail "backends: list at least one array (or name your own Secret in existingBackendsSecret, or set simulator.enabled=true to try the chart without an array)" -}}
{{- end -}}
{{- $ids := dict -}}
{{- $defaults := 0 -}}
{{- range $backends -}}
{{- if hasKey $ids .id -}}
{{- fail (printf "backends: id %q is used twice" .id) -}}
{{- end -}}
{{- $_ := set $ids .id true -}}
{{- if .default -}}{{- $defaults = add1 $defaults -}}{{- end -}}
{{- end -}}
{{- if gt $defaults 1 -}}
{{- fail "backends: more than one backend says default: true" -}}
{{- end -}}
{{- $groups := dict -}}
{{- range .Values.nodeGroups -}}
{{- if hasKey $groups .name -}}
{{- fail (printf "nodeGroups: name %q is used twice" .name) -}}
{{- end -}}
{{- $_ := set $groups .name true -}}
{{- $group := .name -}}
{{- range .backendIds -}}
{{- if not (hasKey $ids .) -}}
{{- fail (printf "nodeGroups: group %q lists backend %q, which is not in backends" $group .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range .Values.storageClasses -}}
{{- $_ := include "3par-csi.classBackend" (list $ .) -}}
{{- end -}}
{{- if and (eq (include "3par-csi.topology" .) "on") (not .Values.nodeGroups) (not (include "3par-csi.backendIds" .)) -}}
{{- fail "topology is on but the chart knows no backend ids for the node plugins: list the ids under backends (with existingBackendsSecret, entries need only their id) or in nodeGroups" -}}
{{- end -}}
{{- end -}}

{{/* Common container security context of the non-root pods. */}}
{{- define "3par-csi.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
