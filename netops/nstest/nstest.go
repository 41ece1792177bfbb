//go:build linux

// Package nstest gives root tests a fresh network namespace with a veth pair in
// it, so that kernel tests never touch the machine's root namespace.
package nstest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Names and the primary address of the veth pair in every namespace. Only the
// documentation ranges are used (docs/design.md, "The test lab").
const (
	Link    = "rv0"           // carries Primary, like a node's own interface
	Peer    = "rv1"           // the other end, where tests capture what Link sends
	Primary = "192.0.2.11/24" // the node's own address on Link
)

// NS is a named network namespace that exists for one test.
type NS struct {
	Name   string
	NS     netns.NsHandle
	Handle *netlink.Handle // a netlink handle inside NS; no thread switching needed
}

// RequireRoot skips t unless it runs as root. With CI=true it fails instead, so
// that a CI job cannot pass by skipping the kernel tests.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("kernel tests need root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW) and CI=true forbids skipping them")
	}
	t.Skip("kernel tests need root (network namespaces, raw sockets); run as root, or set CI=true to make this a failure")
}

// New creates a namespace named rvt-<pid>-<random>, with the veth pair Link and
// Peer up and Primary on Link. Cleanup closes the handle and deletes the
// namespace, also when the test fails.
func New(t testing.TB) *NS {
	t.Helper()
	RequireRoot(t)
	name := fmt.Sprintf("rvt-%d-%08x", os.Getpid(), rand.Uint32())
	ns, err := createNamed(name)
	t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", name, err)
	}
	t.Cleanup(h.Close)
	n := &NS{Name: name, NS: ns, Handle: h}
	if err := n.setUp(); err != nil {
		t.Fatalf("set up veth pair in %s: %v", name, err)
	}
	return n
}

func (n *NS) setUp() error {
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: Link}, PeerName: Peer}
	if err := n.Handle.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth %s/%s: %w", Link, Peer, err)
	}
	for _, name := range []string{Link, Peer} {
		l, err := n.Handle.LinkByName(name)
		if err != nil {
			return err
		}
		if err := n.Handle.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", name, err)
		}
	}
	l, err := n.Handle.LinkByName(Link)
	if err != nil {
		return err
	}
	addr, err := netlink.ParseAddr(Primary)
	if err != nil {
		return err
	}
	if err := n.Handle.AddrAdd(l, addr); err != nil {
		return fmt.Errorf("add %s to %s: %w", Primary, Link, err)
	}
	return nil
}

// Do runs f on a goroutine locked to an OS thread that is inside the namespace,
// for what netlink handles cannot do: opening sockets (AF_PACKET, ICMPv6) and
// net.InterfaceByName. Sockets opened in f stay in the namespace after it
// returns. f must not start goroutines that expect to be in the namespace.
func (n *NS) Do(f func() error) error {
	enter := func() error {
		if err := netns.Set(n.NS); err != nil {
			return fmt.Errorf("enter netns %s: %w", n.Name, err)
		}
		return nil
	}
	return onThread(enter, f)
}

// createNamed creates the named namespace. netns.NewNamed moves the calling
// thread into it, so this happens on a thread of its own.
func createNamed(name string) (netns.NsHandle, error) {
	ns := netns.None()
	err := onThread(func() error {
		var err error
		ns, err = netns.NewNamed(name)
		return err
	}, func() error { return nil })
	return ns, err
}

// onThread runs enter, which moves the thread to another namespace, then f, on
// a locked OS thread, and returns the thread to its original namespace. If it
// cannot, the goroutine exits still locked, so that the runtime discards the
// thread rather than let other goroutines run in the wrong namespace.
func onThread(enter, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err = enter(); err == nil {
			err = f()
		}
		// Even a failed enter may have moved the thread (NewNamed fails after
		// unshare when the bind mount does), so always go back.
		if rerr := netns.Set(orig); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("return to original netns: %w", rerr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// Attrs returns the attributes (index, MAC) of the link called name in n.
func (n *NS) Attrs(t testing.TB, name string) *netlink.LinkAttrs {
	t.Helper()
	l, err := n.Handle.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s in %s: %v", name, n.Name, err)
	}
	return l.Attrs()
}
