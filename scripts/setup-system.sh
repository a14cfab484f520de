#!/usr/bin/env bash
# Debian 12 host packages the project needs (idempotent: installs only what is missing).
set -euo pipefail
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v sipp >/dev/null || need+=(sip-tester)
command -v redis-server >/dev/null || need+=(redis-server)
command -v baresip >/dev/null || need+=(baresip)  # the real softphone of tests/e2e
command -v unshare >/dev/null || need+=(util-linux)
command -v flock >/dev/null || need+=(util-linux)
command -v promtool >/dev/null || need+=(prometheus)
command -v logrotate >/dev/null || need+=(logrotate)
command -v kamailio >/dev/null || need+=(kamailio)  # SIP front of `ivrctl cluster`
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)  # the cluster's store failover
command -v chromium >/dev/null || need+=(chromium)  # the login page's browser test
command -v chromedriver >/dev/null || need+=(chromium-driver)  # Selenium drives it
command -v curl >/dev/null || need+=(curl)  # the login API's non-Python client test
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -eq 0 ]; then
  echo "system: packages present"
  exit 0
fi
echo "system: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
