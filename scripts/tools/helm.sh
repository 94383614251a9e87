#!/usr/bin/env bash
# Builds helm from the helm.sh/helm/v4 Go module into ~/.cache/session-guard/bin/helm-<version>
# (skipped when already there) and points the helm symlink beside it at that version.
#
#   scripts/tools/helm.sh          build when missing; print `helm version`, then the binary's path
#   scripts/tools/helm.sh --path   only print where the binary is (or will be); never builds
#
# The path is always the last line of stdout, so callers (the chart tests) can take that line.
# Progress goes to stderr.
#
# Environment:
#   HELM_VERSION              a released helm v4 tag the Go module proxy serves (default below)
#   SESSION_GUARD_CACHE       cache root shared with scripts/tools/kube.sh (default ~/.cache/session-guard);
#                             binaries are kept in its bin/ directory
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.2}"
BIN_DIR="${SESSION_GUARD_CACHE:-${HOME}/.cache/session-guard}/bin"
TARGET="${BIN_DIR}/helm-${HELM_VERSION}"

log() { printf 'helm.sh: %s\n' "$*" >&2; }

build_helm() {
  command -v go >/dev/null 2>&1 || { log "go is required to build helm (https://go.dev/dl/)"; exit 1; }
  local staging
  staging="$(mktemp -d "${BIN_DIR}/.helm-build.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '${staging}'" EXIT
  log "building helm ${HELM_VERSION} with $(go version | cut -d' ' -f3) (first run only; takes a few minutes)"
  # The version is stamped the way helm's own Makefile stamps a tagged release; without it
  # `helm version` would only report the minor series.
  GOBIN="${staging}" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}" \
      "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}"
  mv -f "${staging}/helm" "${TARGET}"
}

case "${1:-}" in
  --path) printf '%s\n' "${TARGET}"; exit 0 ;;
  '') ;;
  *) log "usage: $0 [--path]"; exit 2 ;;
esac

mkdir -p "${BIN_DIR}"
if [[ ! -x "${TARGET}" ]]; then
  # Concurrent callers (parallel test files) wait for one build instead of racing.
  exec 9>"${BIN_DIR}/.helm-${HELM_VERSION}.lock"
  flock 9
  [[ -x "${TARGET}" ]] || build_helm
  flock -u 9
fi
ln -sfn "helm-${HELM_VERSION}" "${BIN_DIR}/helm"

"${TARGET}" version --template '{{.Version}} (go {{.GoVersion}}, kube client {{.KubeClientVersion}}){{"\n"}}'
printf '%s\n' "${TARGET}"
