#!/usr/bin/env bash
# Provides kube-apiserver, kubectl and etcd for the end-to-end suite, built from source through the Go
# module proxy by the two small modules under test/e2e/go/ (their go.mod files hold the versions).
#
# Binaries land in ${SESSION_GUARD_BIN_DIR:-~/.cache/session-guard/bin} as <name>-<version>, with a
# <name> symlink to the current one: a version bump in a go.mod builds anew, anything already built is
# reused, so only a new machine pays for the Go builds (progress goes to stderr).
#
# stdout: the version of each program, then, as the last line, the bin directory.
#   bin_dir=$(scripts/tools/kube.sh | tail -n 1)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
kube_module=$repo_root/test/e2e/go/kubernetes
etcd_module=$repo_root/test/e2e/go/etcd
bin_dir=${SESSION_GUARD_BIN_DIR:-$HOME/.cache/session-guard/bin}

log() { printf 'kube.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The version a go.mod requires of a module, read from its text so that the cached path needs no Go.
required_version() {
  local go_mod=$1 module=$2 version
  version=$(awk -v module="$module" '
    { sub(/^require[ \t]+/, "") }
    $1 == module && $2 ~ /^v[0-9]/ { print $2; exit }' "$go_mod")
  [[ -n $version ]] || die "$go_mod does not require $module"
  printf '%s\n' "$version"
}

kube_version=$(required_version "$kube_module/go.mod" k8s.io/kubernetes)
etcd_version=$(required_version "$etcd_module/go.mod" go.etcd.io/etcd/server/v3)

require_go() {
  command -v go >/dev/null 2>&1 ||
    die "the Go toolchain is needed to build $1 (https://go.dev/dl/, go $(awk '$1 == "go" { print $2 }' "$kube_module/go.mod") or newer)"
}

# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 and
# replaces them with ./staging paths that do not exist outside its repository. Refuse to build unless
# our go.mod pins every one of them to the release matching the Kubernetes version.
check_staging_replacements() {
  local upstream_go_mod staging_version missing=() module
  upstream_go_mod=$(cd "$kube_module" && go list -m -f '{{.GoMod}}' k8s.io/kubernetes)
  staging_version=v0.${kube_version#v1.}
  while read -r module; do
    grep -Eq "^[[:space:]]*${module//./\\.} => ${module//./\\.} ${staging_version//./\\.}\$" "$kube_module/go.mod" ||
      missing+=("$module")
  done < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$upstream_go_mod")
  ((${#missing[@]} == 0)) ||
    die "test/e2e/go/kubernetes/go.mod must replace each of these with its $staging_version release: ${missing[*]}"
}

# The -X flags upstream's hack/lib/version.sh sets, so that --version reports the release.
kube_ldflags() {
  local release_time minor=${kube_version#v1.} key flags=()
  release_time=$(cd "$kube_module" && go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes)
  minor=${minor%%.*}
  for key in gitVersion=$kube_version gitMajor=1 gitMinor=$minor gitTreeState=archive buildDate=$release_time; do
    flags+=("-X=k8s.io/component-base/version.$key" "-X=k8s.io/client-go/pkg/version.$key")
  done
  printf '%s\n' "${flags[*]}"
}

# build NAME VERSION MODULE_DIR PACKAGE [EXTRA_LDFLAGS]: builds bin/NAME-VERSION unless present, then
# points bin/NAME at it.
build() {
  local name=$1 version=$2 module_dir=$3 package=$4 extra_ldflags=${5:-}
  local target=$bin_dir/$name-$version started=$SECONDS
  if [[ -x $target ]]; then
    log "$name $version: already built"
  else
    log "building $name $version from $package (a few minutes on a new machine)..."
    (cd "$module_dir" &&
      CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags="-s -w $extra_ldflags" -o "$target.partial" "$package") ||
      die "building $name $version failed (see the Go output above)"
    mv -f "$target.partial" "$target"
    log "built $name $version in $((SECONDS - started)) s"
  fi
  ln -sfn "$name-$version" "$bin_dir/$name.link"
  mv -fT "$bin_dir/$name.link" "$bin_dir/$name"
}

mkdir -p "$bin_dir"
# Two test processes may ask at once: one builds, the other waits and then reuses.
exec 9>"$bin_dir/.kube.lock"
if ! flock -n 9; then
  log "another kube.sh is building; waiting for it..."
  flock 9
fi

ldflags=
if [[ ! -x $bin_dir/kube-apiserver-$kube_version || ! -x $bin_dir/kubectl-$kube_version ]]; then
  require_go "Kubernetes $kube_version"
  log "Go modules come through $(go env GOPROXY)"
  check_staging_replacements
  ldflags=$(kube_ldflags)
fi
build kube-apiserver "$kube_version" "$kube_module" k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
build kubectl "$kube_version" "$kube_module" k8s.io/kubernetes/cmd/kubectl "$ldflags"

if [[ ! -x $bin_dir/etcd-$etcd_version ]]; then
  require_go "etcd $etcd_version"
fi
build etcd "$etcd_version" "$etcd_module" go.etcd.io/etcd/server/v3

printf 'kube-apiserver: %s\n' "$("$bin_dir/kube-apiserver" --version)"
printf 'kubectl: %s\n' "$("$bin_dir/kubectl" version --client | paste -sd ' ' -)"
# A module build carries no Git SHA; drop the line in which etcd says so.
printf 'etcd: %s\n' "$("$bin_dir/etcd" --version | grep -v '^Git SHA' | paste -sd ' ' -)"
printf '%s\n' "$bin_dir"
