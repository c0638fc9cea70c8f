# Sourced by the Dockerfile's RUN steps: points apt, pip, npm and TLS clients at the host's
# configuration and CA bundle, which docker/build.sh passes as build secrets. Secrets are mounted
# only while the step runs, so nothing here stays in the image. A missing or empty secret: the
# image's own configuration is used.
s=/run/secrets
if [ -s "$s/ca.crt" ]; then
    export SSL_CERT_FILE="$s/ca.crt" REQUESTS_CA_BUNDLE="$s/ca.crt" CURL_CA_BUNDLE="$s/ca.crt" \
        PIP_CERT="$s/ca.crt" NODE_EXTRA_CA_CERTS="$s/ca.crt" GIT_SSL_CAINFO="$s/ca.crt" \
        NPM_CONFIG_CAFILE="$s/ca.crt"
fi
if [ -s "$s/pip.conf" ]; then export PIP_CONFIG_FILE="$s/pip.conf"; fi
if [ -s "$s/npmrc" ]; then export NPM_CONFIG_USERCONFIG="$s/npmrc"; fi
# apt.conf (the host's Acquire options) may name apt-sources.list as the sources to use
if [ -s "$s/apt.conf" ]; then export APT_CONFIG="$s/apt.conf"; fi
unset s
