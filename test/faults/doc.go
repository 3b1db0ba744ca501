// Package faults is a Jepsen-style fault suite: it runs the real stack
// (`rideshare up` on hcl/local.hcl, on ports 28080–28083, with the built-in
// plugins as subprocesses and the data dir on a 256 MiB tmpfs) under a
// read+write load that records every acknowledged write, and injects one
// fault at a time from a catalog (fault.go): kill -9 and SIGSTOP of the
// master, a slave and the orchestrator; kill -9 of each kind of plugin
// subprocess; ZooKeeper and RabbitMQ paused and restarted; a worker
// partitioned from ZooKeeper or RabbitMQ (cgroup-v2 + iptables,
// partition.go); the data dir full. After each heal it asserts the
// invariants — no acknowledged write lost or duplicated, the replicas
// converged, the stack back to 1 master + its slaves — and reports the
// timings (report.go) without asserting them.
//
// It needs root (tmpfs, iptables, cgroups) and the services of
// scripts/services.sh, which it pauses and restarts: run nothing else
// against them meanwhile (`make test` runs one package at a time).
//
//	go test -count=1 -run TestFaults -v ./test/faults/
//	go test -count=1 -run 'TestFaults/rabbitmq-restart' -v ./test/faults/
//	make faults   # the long run (10 s holds), table in faults-table.md
//
// Each fault holds 3 s (-faults.long or RIDESHARE_FAULTS_LONG=1: 10 s);
// -faults.out=FILE also writes the table to FILE.
package faults
