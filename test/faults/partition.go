package faults

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A partition cuts one worker (its process and its plugin subprocesses)
// off one TCP port: ZooKeeper's 2181 or RabbitMQ's 5672. The workers are
// started by the process runtime, so they cannot be moved into a network
// namespace; instead their processes go into a cgroup-v2 directory of their
// own, and iptables drops (1) new connections from that cgroup to the port
// (the cgroup match sees the socket's cgroup, taken when it is opened) and
// (2) both directions of every connection they already hold to it (by its
// exact 4-tuple: an open socket keeps the cgroup it was opened in).
type partition struct {
	tag    string         // iptables comment naming the suite's rules
	cgroup string         // relative to cgroupRoot
	moved  map[int]string // pid → its cgroup before
	rules  [][]string     // rule specs, without -I/-D OUTPUT
}

// cgroupRoot is the cgroup-v2 hierarchy whose paths iptables' cgroup match
// takes: mounted beside the v1 controllers on a hybrid machine (as this
// one), or at /sys/fs/cgroup itself on a cgroup-v2-only one.
var cgroupRoot = cgroup2Root()

// cgroup2Magic is CGROUP2_SUPER_MAGIC, the statfs type of a cgroup-v2 mount.
const cgroup2Magic = 0x63677270

func cgroup2Root() string {
	for _, dir := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var fs syscall.Statfs_t
		if syscall.Statfs(dir, &fs) == nil && fs.Type == cgroup2Magic {
			return dir
		}
	}
	return "/sys/fs/cgroup/unified" // absent: the partition faults fail naming it
}

// ruleTag is in every rule the suite adds, so cleanup finds them all.
const ruleTag = "rideshare-faults"

// cut partitions the process tree of pid from 127.0.0.1:port.
func cut(pid, port int) (*partition, error) {
	p := &partition{tag: ruleTag, cgroup: "rideshare-faults-" + randomName(), moved: map[int]string{}}
	if err := os.Mkdir(filepath.Join(cgroupRoot, p.cgroup), 0o755); err != nil {
		return nil, fmt.Errorf("make cgroup %s: %w", p.cgroup, err)
	}
	pids := tree(pid)
	for _, q := range pids {
		before, err := cgroupOf(q)
		if err != nil {
			p.heal()
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(cgroupRoot, p.cgroup, "cgroup.procs"), []byte(strconv.Itoa(q)), 0o644); err != nil {
			p.heal()
			return nil, fmt.Errorf("move pid %d into cgroup %s: %w", q, p.cgroup, err)
		}
		p.moved[q] = before
	}
	p.rules = append(p.rules, []string{"-m", "cgroup", "--path", p.cgroup, "-p", "tcp", "--dport", strconv.Itoa(port)})
	conns, err := connections(pids, port)
	if err != nil {
		p.heal()
		return nil, err
	}
	for _, c := range conns {
		p.rules = append(p.rules,
			[]string{"-p", "tcp", "-s", c.local.IP.String(), "--sport", strconv.Itoa(c.local.Port), "-d", c.remote.IP.String(), "--dport", strconv.Itoa(c.remote.Port)},
			[]string{"-p", "tcp", "-s", c.remote.IP.String(), "--sport", strconv.Itoa(c.remote.Port), "-d", c.local.IP.String(), "--dport", strconv.Itoa(c.local.Port)})
	}
	for _, r := range p.rules {
		if err := iptables(append(append([]string{"-I", "OUTPUT"}, r...), "-m", "comment", "--comment", p.tag, "-j", "DROP")...); err != nil {
			p.heal()
			return nil, err
		}
	}
	return p, nil
}

// Connections reports how many open connections the partition cut by
// their 4-tuple (besides the new ones the cgroup rule stops).
func (p *partition) Connections() int { return (len(p.rules) - 1) / 2 }

// dropped is how many packets the suite's rules have dropped so far: a
// partition that dropped nothing cut nothing.
func (p *partition) dropped() (int, error) {
	out, err := exec.Command("iptables", "-L", "OUTPUT", "-v", "-n", "-x").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("iptables -L OUTPUT: %w: %s", err, out)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(line, "/* "+p.tag+" */") {
			k, _ := strconv.Atoi(f[0])
			n += k
		}
	}
	return n, nil
}

// heal removes the rules and moves the processes back; it is safe to call
// twice and after the processes died.
func (p *partition) heal() error {
	var first error
	for _, r := range p.rules {
		if err := iptables(append(append([]string{"-D", "OUTPUT"}, r...), "-m", "comment", "--comment", p.tag, "-j", "DROP")...); err != nil && first == nil {
			first = err
		}
	}
	p.rules = nil
	// Every process in the cgroup goes back, plugin subprocesses started
	// during the partition too (they are the worker's children: its cgroup).
	dir := filepath.Join(cgroupRoot, p.cgroup)
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(b)) {
		q, _ := strconv.Atoi(f)
		back, ok := p.moved[q]
		if !ok {
			back = p.moved[firstKey(p.moved)]
		}
		_ = os.WriteFile(filepath.Join(cgroupRoot, back, "cgroup.procs"), []byte(f), 0o644)
	}
	if err := os.Remove(dir); err != nil && !os.IsNotExist(err) && first == nil {
		first = fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return first
}

func firstKey(m map[int]string) int {
	for k := range m {
		return k
	}
	return 0
}

// removeAllRules deletes every rule the suite ever added (the cleanup of a
// run that died between cut and heal).
func removeAllRules() {
	out, _ := exec.Command("iptables", "-S", "OUTPUT").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "-A OUTPUT") && strings.Contains(line, ruleTag) {
			args := strings.Fields(strings.Replace(line, "-A", "-D", 1))
			for i, a := range args { // iptables -S quotes nothing for our tag
				args[i] = strings.Trim(a, `"`)
			}
			_ = iptables(args...)
		}
	}
}

func iptables(args ...string) error {
	if out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// cgroupOf is pid's cgroup-v2 path (the "0::" line of /proc/<pid>/cgroup).
func cgroupOf(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", fmt.Errorf("cgroup of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return path, nil
		}
	}
	return "", fmt.Errorf("pid %d has no cgroup-v2 line in /proc/%d/cgroup", pid, pid)
}

type conn struct{ local, remote *net.TCPAddr }

// connections are the TCP connections the processes hold open to port:
// their socket inodes (/proc/<pid>/fd) matched against /proc/net/tcp{,6}.
func connections(pids []int, port int) ([]conn, error) {
	inodes := map[string]bool{}
	for _, pid := range pids {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
			}
		}
	}
	var out []conn
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] || f[3] != "01" { // 01: ESTABLISHED
				continue
			}
			local, remote := procAddr(f[1]), procAddr(f[2])
			if local != nil && remote != nil && remote.Port == port {
				out = append(out, conn{local, remote})
			}
		}
	}
	return out, nil
}

// procAddr parses /proc/net/tcp's "0100007F:0885" (the address as the
// kernel's 32-bit words in host order — little-endian here — and the port
// in hex). An IPv4-mapped IPv6 address comes back as IPv4; iptables (not
// ip6tables) sees those packets.
func procAddr(s string) *net.TCPAddr {
	host, port, ok := strings.Cut(s, ":")
	b, err := hex.DecodeString(host)
	if !ok || err != nil || len(b)%4 != 0 {
		return nil
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return nil
	}
	ip := net.IP(b)
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return &net.TCPAddr{IP: ip, Port: int(p)}
}
