package faults

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rideshare/dbaas/api"
	"github.com/rideshare/dbaas/internal/procfs"
	"github.com/rideshare/dbaas/internal/stacktest"
)

// Fault is one entry of the catalog: how to inject it and how to heal it.
type Fault struct {
	Name string
	// Dependency marks a fault of ZooKeeper or RabbitMQ (or of the network
	// to them): the same worker processes should live through it, and the
	// recovery is timed from when the dependency answers again.
	Dependency bool
	// Services marks a pause or restart of ZooKeeper or RabbitMQ: every
	// worker must live through it (the suite fails a replaced one).
	Services bool
	// Answers, when set, says whether the faulty service answers again. The
	// suite polls it while the heal runs and times the recovery from its
	// first true: a heal that waits for a slow boot script would otherwise
	// start the clock late.
	Answers func() bool
	// Inject makes the fault happen and checks that it did (a fault that
	// injects nothing must fail). It returns the heal, or nil when there is
	// nothing to heal (a kill: the stack heals itself).
	Inject func(e *Env) (Heal, error)
}

// Heal ends a fault after the hold and returns once the faulty part
// answers again (ZooKeeper serves, RabbitMQ accepts connections, …).
type Heal func() error

// Env is what a fault acts on.
type Env struct {
	Up    *Up
	Stack *stacktest.Stack // attached to the running subtest
	Hold  time.Duration
	Logf  func(format string, args ...any)
	// Effect says how the injection was seen to take effect (the report's
	// "took effect" column).
	Effect string
}

// Catalog is every fault, in the order the suite injects them.
func Catalog() []Fault {
	return []Fault{
		{Name: "master-kill", Inject: killWorker("master")},
		{Name: "slave-kill", Inject: killWorker("slave")},
		{Name: "master-stop", Inject: stopWorker("master")},
		{Name: "slave-stop", Inject: stopWorker("slave")},
		{Name: "plugin-kill-worker-storage", Inject: killPlugin(masterPID, "storage")},
		{Name: "plugin-kill-worker-election", Inject: killPlugin(masterPID, "election")},
		{Name: "plugin-kill-orchestrator-runtime", Inject: killPlugin(orchestratorPID, "runtime")},
		{Name: "plugin-kill-orchestrator-election", Inject: killPlugin(orchestratorPID, "election")},
		{Name: "plugin-stop-worker-storage", Inject: stopPlugin(masterPID, "storage")},
		{Name: "plugin-stop-worker-election", Inject: stopPlugin(masterPID, "election")},
		{Name: "zookeeper-pause", Dependency: true, Services: true, Answers: zkAnswers, Inject: pauseService(stacktest.ZooKeeperCmd, zkAnswers)},
		{Name: "zookeeper-restart", Dependency: true, Services: true, Answers: zkAnswers, Inject: restartZooKeeper},
		{Name: "rabbitmq-pause", Dependency: true, Services: true, Answers: rabbitAnswers, Inject: pauseService(rabbitCmd, rabbitAnswers)},
		{Name: "rabbitmq-restart", Dependency: true, Services: true, Answers: rabbitAnswers, Inject: restartRabbitMQ},
		{Name: "partition-zookeeper-slave", Dependency: true, Inject: partitionWorker("slave", 2181)},
		{Name: "partition-zookeeper-master", Dependency: true, Inject: partitionWorker("master", 2181)},
		{Name: "partition-rabbitmq-slave", Dependency: true, Inject: partitionWorker("slave", 5672)},
		{Name: "partition-rabbitmq-master", Dependency: true, Inject: partitionWorker("master", 5672)},
		{Name: "disk-full", Inject: fillDisk},
		{Name: "orchestrator-stop", Inject: stopOrchestrator},
		{Name: "orchestrator-kill", Inject: killOrchestrator},
	}
}

// worker is the first worker of the role the orchestrator lists.
func (e *Env) worker(role string) (api.WorkerInfo, error) {
	for _, w := range e.Stack.Workers() {
		if w.Role == role && !w.Draining {
			return w, nil
		}
	}
	return api.WorkerInfo{}, fmt.Errorf("no %s in %+v", role, e.Stack.Workers())
}

func killWorker(role string) func(*Env) (Heal, error) {
	return func(e *Env) (Heal, error) {
		w, err := e.worker(role)
		if err != nil {
			return nil, err
		}
		e.Logf("kill -9 %s %s (pid %d)", role, w.ID, w.PID)
		e.Effect = "pid gone"
		return nil, kill9(w.PID)
	}
}

func stopWorker(role string) func(*Env) (Heal, error) {
	return func(e *Env) (Heal, error) {
		w, err := e.worker(role)
		if err != nil {
			return nil, err
		}
		e.Logf("SIGSTOP %s %s (pid %d)", role, w.ID, w.PID)
		e.Effect = "state T"
		return func() error { return cont(w.PID) }, stop(w.PID)
	}
}

func masterPID(e *Env) (int, error) {
	w, err := e.worker("master")
	return w.PID, err
}

// orchestratorPID is up's child running "rideshare orchestrator".
func orchestratorPID(e *Env) (int, error) { return child(e.Up.PID(), "orchestrator") }

// plugin finds the plugin subprocess of one kind ("rideshare plugin
// <kind> …") below the process owner finds.
func plugin(e *Env, owner func(*Env) (int, error), kind string) (pid, parent int, err error) {
	if parent, err = owner(e); err != nil {
		return 0, 0, err
	}
	pid, err = child(parent, "plugin", kind)
	return pid, parent, err
}

// killPlugin kills a plugin subprocess (see plugin).
func killPlugin(owner func(*Env) (int, error), kind string) func(*Env) (Heal, error) {
	return func(e *Env) (Heal, error) {
		pid, parent, err := plugin(e, owner, kind)
		if err != nil {
			return nil, err
		}
		e.Logf("kill -9 %s plugin pid %d (parent %d)", kind, pid, parent)
		e.Effect = "pid gone"
		return nil, kill9(pid)
	}
}

// stopPlugin SIGSTOPs a plugin subprocess (see plugin); the heal resumes it.
func stopPlugin(owner func(*Env) (int, error), kind string) func(*Env) (Heal, error) {
	return func(e *Env) (Heal, error) {
		pid, parent, err := plugin(e, owner, kind)
		if err != nil {
			return nil, err
		}
		e.Logf("SIGSTOP %s plugin pid %d (parent %d)", kind, pid, parent)
		e.Effect = "state T"
		return func() error { return cont(pid) }, stop(pid)
	}
}

func killOrchestrator(e *Env) (Heal, error) {
	pid, err := orchestratorPID(e)
	if err != nil {
		return nil, err
	}
	e.Logf("kill -9 orchestrator pid %d", pid)
	e.Effect = "pid gone"
	return nil, kill9(pid)
}

func stopOrchestrator(e *Env) (Heal, error) {
	pid, err := orchestratorPID(e)
	if err != nil {
		return nil, err
	}
	e.Logf("SIGSTOP orchestrator pid %d", pid)
	e.Effect = "state T"
	return func() error { return cont(pid) }, stop(pid)
}

// pauseService SIGSTOPs a shared service's process; the heal resumes it
// and waits until it answers.
func pauseService(cmdline string, answers func() bool) func(*Env) (Heal, error) {
	return func(e *Env) (Heal, error) {
		pid, err := findProc(cmdline)
		if err != nil {
			return nil, err
		}
		e.Logf("SIGSTOP pid %d (%s)", pid, cmdline)
		heal := func() error {
			if err := cont(pid); err != nil {
				return err
			}
			return waitFor(60*time.Second, cmdline+" to answer", answers)
		}
		if err := stop(pid); err != nil {
			return heal, err
		}
		if answers() {
			return heal, fmt.Errorf("pid %d (%s) is stopped but the service still answers", pid, cmdline)
		}
		e.Effect = "state T, no answer"
		return heal, nil
	}
}

// restartZooKeeper stops ZooKeeper as an init system does (SIGTERM); the
// heal starts it again through scripts/services.sh.
func restartZooKeeper(e *Env) (Heal, error) {
	pid, err := findProc(stacktest.ZooKeeperCmd)
	if err != nil {
		return nil, err
	}
	e.Logf("SIGTERM ZooKeeper pid %d", pid)
	heal := func() error {
		if err := stacktest.StartServices(); err != nil {
			return err
		}
		return waitFor(60*time.Second, "ZooKeeper to answer", zkAnswers)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return heal, fmt.Errorf("SIGTERM ZooKeeper pid %d: %w", pid, err)
	}
	if err := waitFor(30*time.Second, "ZooKeeper to exit", func() bool { return !procfs.Alive(pid) }); err != nil {
		return heal, err
	}
	if zkAnswers() {
		return heal, fmt.Errorf("ZooKeeper pid %d exited but something still answers on %s", pid, stacktest.ZKAddr)
	}
	e.Effect = "exited, no answer"
	return heal, nil
}

// restartRabbitMQ stops the RabbitMQ application (the node stays up, its
// connections close); the heal starts it and waits for it to boot.
func restartRabbitMQ(e *Env) (Heal, error) {
	e.Logf("rabbitmqctl stop_app")
	heal := func() error {
		for _, cmd := range []string{"start_app", "await_startup"} {
			if err := rabbitmqctl(cmd); err != nil {
				return err
			}
		}
		return waitFor(60*time.Second, "RabbitMQ to accept connections", rabbitAnswers)
	}
	if err := rabbitmqctl("stop_app"); err != nil {
		return heal, err
	}
	if rabbitAnswers() {
		return heal, fmt.Errorf("RabbitMQ still accepts connections after stop_app")
	}
	e.Effect = "AMQP refused"
	return heal, nil
}

// fillDisk writes a file into the data dir (a tmpfs) until the write fails
// with ENOSPC; the heal deletes it.
func fillDisk(e *Env) (Heal, error) {
	path := filepath.Join(e.Up.DataDir, "fill")
	heal := func() error { return os.Remove(path) }
	f, err := os.Create(path)
	if err != nil {
		return heal, fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	began := time.Now()
	for written := 0; ; written += len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				return heal, fmt.Errorf("fill %s: %w", path, err)
			}
			e.Logf("data dir full after %d MiB in %s (%v)", written>>20, time.Since(began).Round(time.Millisecond), err)
			e.Effect = fmt.Sprintf("ENOSPC after %d MiB", written>>20)
			return heal, nil
		}
	}
}
