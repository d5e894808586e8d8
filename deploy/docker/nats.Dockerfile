# A NATS server image FROM scratch: the nats-server binary and the shared libraries it links,
# staged by build-nats-image.sh into rootfs/ of the build context (no registry needed).
#   deploy/docker/build-nats-image.sh [tag]
FROM scratch
COPY rootfs/ /
# /etc/nats/nats.conf includes /etc/nats-auth/auth.conf (operator-mode auth, made from the
# controller's key store by `launchfleet-controller nats-auth`): mount it there at run time;
# compose does (volume nats-auth). Without it the server does not start.
# 4222 clients, 6222 cluster routes, 8222 HTTP monitoring (/healthz, /varz).
EXPOSE 4222 6222 8222
VOLUME ["/data"]
ENTRYPOINT ["/nats-server"]
CMD ["--config", "/etc/nats/nats.conf"]
