// Package composetest is what the tests that run a compose deployment on the local Docker
// engine (test/compose: docker-compose.yml; test/cluster: docker-compose.cluster.yml) share:
// building the images the deployment runs from the code under test (Deployment and Main: the
// packages' TestMain), running commands, free host ports, and finding and removing whatever of a compose project the engine still holds.
package composetest
