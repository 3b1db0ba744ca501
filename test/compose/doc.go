// Package compose runs the compose deployment (docker-compose.yml, hcl/compose.hcl) as written,
// on the images `make images` builds (scripts/images.sh): every part in a container on the
// project's own network, the RideShare API through the published gateway port, crashes of the
// master and a slave through the orchestrator's port with replacement containers, a scale-out,
// the data across `docker-compose down` and `up`, and `docker-compose down -v` leaving no
// container, network, volume or worker behind.
//
// Each run is a compose project of its own (COMPOSE_PROJECT_NAME rscomposetest<random>) on free
// host ports, with its own rideshare image built from the code under test
// (rideshare-composetest:latest), so it runs beside the host's RabbitMQ, ZooKeeper and
// PostgreSQL, beside a `rideshare up` on 8080/8083, and beside another run.
//
// Needs a Docker engine and docker-compose (v1); without either the test fails naming it.
// The images are built in TestMain: the first time (debootstrap, then Debian's packages) takes
// a few minutes, later runs use the cache.
package compose
