// Package plugintest holds integration tests proving that the backends really
// are go-plugin plugins: a third-party runtime binary found in plugin_dir
// runs the workers of a real stack, a plugin_dir executable that fails the
// handshake stops the orchestrator with an error naming it, and a plugin
// subprocess killed with SIGKILL inside a running stack (the orchestrator's
// runtime plugin, a worker's storage plugin) is restarted by its host without
// losing a worker or an acknowledged write.
//
// The tests start real stacks (stacktest): RabbitMQ and ZooKeeper must run
// (`make services`).
package plugintest
