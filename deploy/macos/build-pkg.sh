#!/usr/bin/env bash
# Builds the macOS installer package of the agent on a Mac: the single-file agent signed with a
# Developer ID Application identity (hardened runtime), a component package (pkgbuild) with the
# LaunchDaemon and the install scripts, a product archive (productbuild) signed with a Developer
# ID Installer identity, then notarization and stapling. NOTHING HERE HAS RUN ON A MAC YET
# (README, "macOS"): deploy/check.sh only lints it (bash -n, shellcheck) on Linux.
#
#   deploy/macos/build-pkg.sh [--binary FILE] [--version VERSION] [--out DIR]
#
#   --binary FILE   the single-file agent built on a Mac of the target architecture
#                   (scripts/build-agent.sh --node "$(command -v node)"; default: build it so)
#   --version V     package version (default: node-agent/package.json's)
#   --out DIR       output directory (default build/macos)
#
# Identities come from the environment; without them the package is built unsigned (for a test
# Mac only) and the script says so, unless LF_REQUIRE_SIGNING=1:
#   LF_APP_IDENTITY        "Developer ID Application: Example Corp (TEAMID0000)"
#   LF_INSTALLER_IDENTITY  "Developer ID Installer: Example Corp (TEAMID0000)"
#   LF_NOTARY_PROFILE      a notarytool keychain profile, made once with
#                          xcrun notarytool store-credentials "$LF_NOTARY_PROFILE" \
#                            --apple-id ID --team-id TEAMID0000 --password APP_SPECIFIC_PASSWORD
#   LF_KEYCHAIN            optional: the keychain holding the identities (CI)
#
# Payload (installed at /):
#   /usr/local/lib/launchfleet/bin/launchfleet-agent   the agent (lfctl is the same binary)
#   /usr/local/bin/lfctl                              -> it
#   /usr/local/lib/launchfleet/share/agent.json       default config (postinstall copies it to
#                                                     /etc/launchfleet/agent.json if absent)
#   /Library/LaunchDaemons/com.launchfleet.agent.plist   deploy/agent's LaunchDaemon
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=""
version=""
out="build/macos"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "build-pkg: unknown argument $1 (try --help)" >&2; exit 64 ;;
  esac
done
[ "$(uname -s)" = Darwin ] || { echo "build-pkg: pkgbuild, productbuild and codesign exist on macOS only" >&2; exit 1; }
if [ -z "$binary" ]; then
  bash scripts/build-agent.sh --node "$(command -v node)" --out build/agent >&2
  binary=build/agent/launchfleet-agent
fi
[ -n "$version" ] || version="$(node -p 'require("./node-agent/package.json").version')"
app_id="${LF_APP_IDENTITY:-}"
installer_id="${LF_INSTALLER_IDENTITY:-}"
notary="${LF_NOTARY_PROFILE:-}"
if [ "${LF_REQUIRE_SIGNING:-0}" = 1 ] && { [ -z "$app_id" ] || [ -z "$installer_id" ] || [ -z "$notary" ]; }; then
  echo "build-pkg: LF_REQUIRE_SIGNING=1 needs LF_APP_IDENTITY, LF_INSTALLER_IDENTITY and LF_NOTARY_PROFILE" >&2
  exit 1
fi
keychain_args=()
[ -z "${LF_KEYCHAIN:-}" ] || keychain_args=(--keychain "$LF_KEYCHAIN")

mkdir -p "$out"
work="$(mktemp -d "${TMPDIR:-/tmp}/lf-pkg.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
install -d -m 755 "$root/usr/local/lib/launchfleet/bin" "$root/usr/local/lib/launchfleet/share" \
  "$root/usr/local/bin" "$root/Library/LaunchDaemons"
install -m 755 "$binary" "$root/usr/local/lib/launchfleet/bin/launchfleet-agent"
ln -s ../lib/launchfleet/bin/launchfleet-agent "$root/usr/local/bin/lfctl"
install -m 644 deploy/macos/agent.json "$root/usr/local/lib/launchfleet/share/agent.json"
install -m 644 deploy/agent/com.launchfleet.agent.plist "$root/Library/LaunchDaemons/com.launchfleet.agent.plist"

# 1. Sign the binary: Developer ID, hardened runtime (notarization requires it), a secure
#    timestamp, and the entitlements the embedded Node needs (deploy/macos/entitlements.plist).
if [ -n "$app_id" ]; then
  codesign --force --options runtime --timestamp "${keychain_args[@]}" \
    --entitlements deploy/macos/entitlements.plist --identifier com.launchfleet.agent \
    --sign "$app_id" "$root/usr/local/lib/launchfleet/bin/launchfleet-agent"
  codesign --verify --strict --verbose=2 "$root/usr/local/lib/launchfleet/bin/launchfleet-agent"
else
  echo "build-pkg: LF_APP_IDENTITY not set: the agent keeps its ad hoc signature (test Macs only)" >&2
fi

# 2. The component package: ownership root:wheel whatever the builder's, the install scripts,
#    and no relocation (an admin's copy elsewhere must not be "upgraded" in place).
cat >"$work/component.plist" <<'PLIST'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<array/>
</plist>
PLIST
pkgbuild --root "$root" --install-location / --ownership recommended \
  --component-plist "$work/component.plist" \
  --scripts deploy/macos/scripts --identifier com.launchfleet.agent.pkg --version "$version" \
  "$work/launchfleet-agent-component.pkg"

# 3. The product archive admins and MDMs install, signed with the Installer identity.
pkg="$out/launchfleet-agent-$version.pkg"
product_args=(--package "$work/launchfleet-agent-component.pkg" --identifier com.launchfleet.agent --version "$version")
if [ -n "$installer_id" ]; then
  productbuild "${product_args[@]}" --sign "$installer_id" "${keychain_args[@]}" --timestamp "$pkg"
  pkgutil --check-signature "$pkg"
else
  echo "build-pkg: LF_INSTALLER_IDENTITY not set: the package is unsigned (test Macs only)" >&2
  productbuild "${product_args[@]}" "$pkg"
fi

# 4. Notarize and staple, so Gatekeeper accepts the package offline.
if [ -n "$notary" ] && [ -n "$installer_id" ]; then
  xcrun notarytool submit "$pkg" --keychain-profile "$notary" --wait
  xcrun stapler staple "$pkg"
  xcrun stapler validate "$pkg"
  spctl --assess --type install --verbose=2 "$pkg"
else
  echo "build-pkg: LF_NOTARY_PROFILE (or the Installer identity) not set: not notarized" >&2
fi
echo "$pkg"
