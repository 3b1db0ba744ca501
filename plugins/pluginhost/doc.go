// Package pluginhost runs the rideshare backends — runtime, storage,
// election — as HashiCorp go-plugin subprocesses over gRPC, in the style of
// Nomad.
//
// Plugin side: a binary calls Serve(kind, name, factory), or the hidden
// "rideshare plugin <kind> <name>" command calls ServeBuiltin for an
// implementation registered with Register. The factory runs inside the plugin
// process when the host sends the kind's Configure (or Open) call.
//
// Host side: LoadRuntime, LoadStorage and LoadElection resolve a plugin by
// name (an executable <PluginDir>/rideshare-<kind>-<name> first, else the
// built-in served by "<Binary> plugin <kind> <name>"), start it, configure it
// and return a client implementing the kind's interface. The client
// supervises the subprocess: when it dies, the host logs an error naming it,
// restarts it and sends the same configuration again, and a call that failed
// because of it is retried once on the new process. See each Load function
// for what "transparent" means for that kind.
//
// Invariants:
//   - one plugin process serves one kind and holds one configured instance
//     (one Runtime, one open Storage, one election session);
//   - the implementation's own errors cross the boundary with their message
//     and, for the registered sentinels (runtime.ErrNotFound,
//     storage.ErrConstraint, dbapi.InvalidError, election.ErrNotLeader),
//     their identity: errors.Is/As work on the host;
//   - errors of the plugin machinery (not found, handshake, restart) name the
//     plugin and its path;
//   - a plugin process exits when its host does (it watches its parent), so a
//     host killed with SIGKILL leaves no plugin behind.
package pluginhost
