# rideshare:latest — the one static binary (built by `make build` with CGO_ENABLED=0), nothing
# else. FROM scratch because no base image can be pulled where this is built, and a static Go
# binary needs none. Build with `make image`; .dockerignore keeps the context to bin/rideshare.
FROM scratch
LABEL org.rideshare.project=dbaas
COPY bin/rideshare /rideshare
ENTRYPOINT ["/rideshare"]
