// Package lab builds the network-namespace test lab of docs/design.md ("The
// test lab"): a `lan` namespace holding a bridge, one namespace per node, one
// for a client and, on request, one for an intruder, all on 192.0.2.0/24 and
// 2001:db8::/64. Nothing is configured in the machine's root namespace: every
// link is created inside a lab namespace. Every name carries a per-run prefix,
// and Close removes everything the lab made.
//
// The lab needs root, iproute2 (`ip`) and nftables (`nft`, for Partition).
package lab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Addressing of the lab (documentation ranges only).
const (
	// ResponderPort is where every node's responder answers with its name.
	ResponderPort = 8000
	// Link is the name of the LAN interface in every node and in the client.
	Link = "eth0"

	bridge     = "br0"
	clientHost = 50
	// intruderHost is above every node's and the client's address.
	intruderHost = 66
)

// MaxNodes is the most nodes a lab can have: it keeps node addresses
// (192.0.2.11 up) below the client's.
const MaxNodes = clientHost - 11

// ErrClosed is returned by operations on a lab that has been closed.
var ErrClosed = errors.New("lab closed")

// Options configures New.
type Options struct {
	// Nodes is the number of node namespaces (default 3).
	Nodes int
	// Dir receives the process logs. Default: a new temporary directory that
	// Close removes. A Dir given here is left in place.
	Dir string
	// Responder is a prebuilt responder binary; by default StartResponders
	// builds e2e/internal/responder with `go build` into Dir.
	Responder string
	// KeepSignals stops the lab from catching SIGINT/SIGTERM/SIGHUP. By default
	// those signals close every open lab and then end the process with the
	// same signal, so an interrupted test or demo leaves nothing behind.
	KeepSignals bool
	// Intruder adds a host on the LAN that is neither a node nor the client:
	// hostile tests attack the cluster from it, while the client judges what
	// users notice.
	Intruder bool
	// RoutedWitness puts the last node on another subnet, 198.51.100.0/24,
	// behind a router namespace (192.0.2.1 on the LAN, 198.51.100.1 on the
	// witness's link), routed rather than bridged: the place of a witness
	// that reaches the VIP hosts over TCP only (routed.go).
	RoutedWitness bool
	// Logf receives progress lines (default: discarded).
	Logf func(format string, args ...any)
}

// Lab is one running lab. Its methods are safe for concurrent use.
type Lab struct {
	prefix  string
	dir     string
	ownDir  bool
	logf    func(string, ...any)
	spawner *spawner
	nl      *handles

	mu       sync.Mutex // guards everything below, and Close
	closed   bool
	nodes    []node // index 0 is node 1
	client   node
	intruder node // zero unless Options.Intruder
	procs    []*Proc
	isolated map[int]bool // nodes cut off from their peers by Partition
	// routed is the index of the node behind the router (RoutedWitness), 0
	// for none; cutRouter are nodes PartitionAll also cut off from it.
	routed     int
	cutRouter  map[int]bool
	rules      map[string][]netRule // Block, Split and Loss faults by key
	responder  string               // built responder binary, "" until StartResponders
	responding bool
}

type node struct {
	ns  string
	mac net.HardwareAddr
}

// New builds a lab with opts.Nodes nodes and a client on one bridge. On error
// it removes whatever it had built.
func New(ctx context.Context, opts Options) (*Lab, error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Nodes < 1 || opts.Nodes > MaxNodes {
		return nil, fmt.Errorf("lab nodes %d: want 1..%d", opts.Nodes, MaxNodes)
	}
	l := &Lab{
		logf:      opts.Logf,
		dir:       opts.Dir,
		isolated:  map[int]bool{},
		cutRouter: map[int]bool{},
		rules:     map[string][]netRule{},
	}
	if opts.RoutedWitness {
		if opts.Nodes < 2 {
			return nil, fmt.Errorf("lab nodes %d: a routed witness needs at least one other node", opts.Nodes)
		}
		l.routed = opts.Nodes
	}
	if l.logf == nil {
		l.logf = func(string, ...any) {}
	}
	if removed, err := sweepStale(ctx); err != nil {
		l.logf("removing labs left by killed runs: %v", err)
	} else if len(removed) > 0 {
		l.logf("removed the namespaces (and default log directories) of labs whose creator was killed: %v", removed)
	}
	var err error
	if l.prefix, err = pickPrefix(ctx); err != nil {
		return nil, err
	}
	if l.dir == "" {
		if l.dir, err = os.MkdirTemp("", l.prefix+"-"); err != nil {
			return nil, errors.Join(fmt.Errorf("lab dir: %w", err), delNetns(ctx, l.lanNS()))
		}
		l.ownDir = true
	}
	l.responder = opts.Responder
	l.spawner = newSpawner()
	l.nl = newHandles()
	if !opts.KeepSignals {
		registerSignalCleanup(l)
	}
	if err := l.build(ctx, opts.Nodes, opts.Intruder); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	l.logf("lab %s: %d nodes, client, bridge in %s; logs in %s", l.prefix, opts.Nodes, l.lanNS(), l.dir)
	return l, nil
}

func (l *Lab) build(ctx context.Context, nodes int, intruder bool) error {
	if err := l.buildLAN(ctx); err != nil {
		return err
	}
	if l.routed != 0 {
		if err := l.buildRouter(ctx); err != nil {
			return fmt.Errorf("router: %w", err)
		}
	}
	c, err := l.addHost(ctx, l.prefix+"c", "pc", clientHost, 0xfe)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	l.client = c
	if err := l.routeToWitness(ctx, c.ns); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if intruder {
		in, err := l.addHost(ctx, l.prefix+"i", "pi", intruderHost, 0xfd)
		if err != nil {
			return fmt.Errorf("intruder: %w", err)
		}
		l.intruder = in
	}
	for range nodes {
		if _, err := l.AddNode(ctx); err != nil {
			return err
		}
	}
	return nil
}

// pickPrefix makes a prefix from the PID and a random suffix that no
// existing namespace starts with, and claims it by creating the lab's lan
// namespace: `ip netns add` fails on a name that exists, so two labs built at
// once never share a prefix, and Close may delete every namespace that starts
// with it.
func pickPrefix(ctx context.Context) (string, error) {
	existing, err := listNetns(ctx)
	if err != nil {
		return "", err
	}
	taken := func(p string) bool {
		for _, ns := range existing {
			if strings.HasPrefix(ns, p) {
				return true
			}
		}
		return false
	}
	for range 20 {
		// The whole PID, so sweepStale can tell whether the creator lives
		// (at most 12 characters for a 7-digit PID); the "x" ends it, so no
		// prefix is the start of another's names.
		p := fmt.Sprintf("rv%dx%02x", os.Getpid(), rand.N(0x100))
		if taken(p) {
			continue
		}
		err := addNetns(ctx, p+"lan")
		if errors.Is(err, errNetnsExists) {
			continue // claimed by a lab built at the same time
		}
		if err != nil {
			return "", err
		}
		return p, nil
	}
	return "", errors.New("lab prefix: no free name after 20 tries")
}

// Prefix is the per-run prefix of every namespace name.
func (l *Lab) Prefix() string { return l.prefix }

// Dir is the directory holding the process logs.
func (l *Lab) Dir() string { return l.dir }

// Nodes is the current number of nodes.
func (l *Lab) Nodes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.nodes)
}

// NodeName is the name of node i (1-based), as its responder answers: "n1".
func NodeName(i int) string { return fmt.Sprintf("n%d", i) }

// NodeIndex is the inverse of NodeName: 3 for "n3", 0 for anything else (""
// included, as a probe reports no answer).
func NodeIndex(name string) int {
	digits, ok := strings.CutPrefix(name, "n")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 1 {
		return 0
	}
	return n
}

// NodeNS is the namespace name of node i (1-based).
func (l *Lab) NodeNS(i int) string { return l.node(i).ns }

// NodeMAC is the hardware address of node i's eth0.
func (l *Lab) NodeMAC(i int) net.HardwareAddr { return l.node(i).mac }

// NodeIP is node i's IPv4 address, 192.0.2.(10+i).
func (l *Lab) NodeIP(i int) netip.Addr {
	if i == l.routed {
		return witnessIP
	}
	return hostIP(10 + i)
}

// NodeIP6 is node i's IPv6 address, 2001:db8::(10+i) written in decimal digits
// (2001:db8::11 for node 1), mirroring the IPv4 address.
func (l *Lab) NodeIP6(i int) netip.Addr { return hostIP6(10 + i) }

// ClientNS is the client's namespace name.
func (l *Lab) ClientNS() string { return l.client.ns }

// ClientIP is the client's IPv4 address, 192.0.2.50.
func (l *Lab) ClientIP() netip.Addr { return hostIP(clientHost) }

// IntruderNS is the intruder's namespace name; it panics unless the lab was
// built with Options.Intruder, which is a bug in the calling test.
func (l *Lab) IntruderNS() string {
	if l.intruder.ns == "" {
		panic("lab: no intruder (Options.Intruder is false)")
	}
	return l.intruder.ns
}

// IntruderIP is the intruder's IPv4 address, 192.0.2.66.
func (l *Lab) IntruderIP() netip.Addr { return hostIP(intruderHost) }

// IntruderIP6 is the intruder's IPv6 address, 2001:db8::66.
func (l *Lab) IntruderIP6() netip.Addr { return hostIP6(intruderHost) }

func (l *Lab) lanNS() string { return l.prefix + "lan" }

// node panics on an index out of range: that is a bug in the calling test.
func (l *Lab) node(i int) node {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 1 || i > len(l.nodes) {
		panic(fmt.Sprintf("lab: node %d out of range 1..%d", i, len(l.nodes)))
	}
	return l.nodes[i-1]
}

func hostIP(host int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(host)}) }

// SpareIPv4 lists, ascending, the host addresses of 192.0.2.0/24 that no lab
// ever gives a host: not the router (.1), any node (.11 up to the last of
// MaxNodes), the client (.50) or the intruder (.66), so a bench can bind as
// many VIPs as the LAN's subnet has room for. 192.0.2.2 is left out too:
// test machines that number their own uplink from this range start there
// (the one the benchmarks ran on does), and although no lab namespace sees
// that link, a VIP equal to it would make captures and logs ambiguous.
func SpareIPv4() []netip.Addr {
	var out []netip.Addr
	for host := 3; host < 255; host++ {
		node := host >= 11 && host < 11+MaxNodes
		if !node && host != clientHost && host != intruderHost {
			out = append(out, hostIP(host))
		}
	}
	return out
}

func hostIP6(host int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:db8::%d", host)) }

// Close kills the processes the lab started, deletes its namespaces (and with
// them every link) and its own log directory. It is idempotent, and a second
// concurrent call returns once the first is done.
func (l *Lab) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	unregisterSignalCleanup(l)
	var errs []error
	for _, p := range l.procs {
		errs = append(errs, p.kill())
	}
	l.spawner.close()
	l.nl.close()
	// Every namespace with the prefix, not only those recorded: a host whose
	// setup failed half-way has a namespace but no node. The lan namespace
	// goes last, so the hosts' veth ends go before the bridge's; deleting a
	// namespace deletes the links in it.
	ctx := context.Background()
	all, err := ListNetns(ctx, l.prefix)
	errs = append(errs, err)
	for _, ns := range all {
		if ns != l.lanNS() {
			errs = append(errs, delNetns(ctx, ns))
		}
	}
	errs = append(errs, delNetns(ctx, l.lanNS()))
	if l.ownDir {
		errs = append(errs, os.RemoveAll(l.dir))
	}
	l.logf("lab %s closed", l.prefix)
	return errors.Join(errs...)
}
