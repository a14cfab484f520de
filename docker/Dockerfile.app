# ivr-app: the FastAGI server (`ivrctl serve`, the default command) and every ivrctl command
# (subscribers import, tpw verify, ...), from the `python` root of scripts/build-image-roots.sh
# (Debian bookworm's python3, the dependencies in /opt/ivr/lib). It holds every package of the
# repository's pyproject (ivr, agi, store, dialplan, sounds, loadgen, and the login service's
# once it is there): the login service runs from this same image with its own command.
# Built by scripts/build-images.sh (`make images`); no secret is in it (docs/operations.md).
ARG ROOT
FROM ${ROOT}
COPY app/ /app/
COPY entrypoints/ivrctl /usr/local/bin/ivrctl
RUN python3 -m compileall -q /app \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/ivr /var/lib/ivr/logs /var/lib/ivr/run
ENV PYTHONPATH=/opt/ivr/lib:/app PYTHONDONTWRITEBYTECODE=1 IVR_STATE_DIR=/var/lib/ivr \
    HOME=/var/lib/ivr
WORKDIR /var/lib/ivr
USER 10001:10001
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["ivrctl", "health"]
ENTRYPOINT ["/usr/local/bin/ivrctl"]
CMD ["serve"]
