package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/vishvananda/netns"
)

// RunInNS runs f on a fresh goroutine whose OS thread has joined namespace ns,
// and returns f's error. Sockets f opens live in ns (a socket keeps the
// namespace it was created in). The thread is never switched back: the
// goroutine exits still locked, so the Go runtime discards the thread rather
// than reuse it in the wrong namespace.
func RunInNS(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread, on purpose: see above.
		fd, err := netns.GetFromName(ns)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		err = netns.Set(fd)
		fd.Close()
		if err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Ask connects to addr from the calling thread's namespace, reads what the
// responder says until it closes, and returns it without the newline. The
// whole exchange is bounded by timeout. Call it inside RunInNS, or use AskFrom.
func Ask(ctx context.Context, addr netip.AddrPort, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl) // a fresh TCP conn: cannot fail
	}
	b, err := io.ReadAll(io.LimitReader(conn, 64))
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(string(b))
	if name == "" {
		return "", errors.New("empty answer")
	}
	return name, nil
}

// AskFrom is Ask run from namespace ns.
func AskFrom(ctx context.Context, ns string, addr netip.AddrPort, timeout time.Duration) (string, error) {
	var name string
	err := RunInNS(ns, func() error {
		var err error
		name, err = Ask(ctx, addr, timeout)
		return err
	})
	return name, err
}

// Responder is the address of node i's responder at ip (any address it
// holds, a VIP included).
func Responder(ip netip.Addr) netip.AddrPort { return netip.AddrPortFrom(ip, ResponderPort) }

// GratuitousARP makes node i announce that vip is at its eth0 MAC, with the
// request form docs/design.md ("Gratuitous ARP") found reliable (op=1, sender
// IP = target IP = vip, target MAC zero, to broadcast). It is a test tool: in
// the real cluster the daemon announces.
func (l *Lab) GratuitousARP(i int, vip netip.Addr) error {
	if !vip.Is4() {
		return fmt.Errorf("gratuitous ARP for %s: not IPv4", vip)
	}
	return RunInNS(l.NodeNS(i), func() error {
		ifi, err := net.InterfaceByName(Link)
		if err != nil {
			return fmt.Errorf("n%d %s: %w", i, Link, err)
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			return fmt.Errorf("n%d arp: %w", i, err)
		}
		defer c.Close()
		zero := make(net.HardwareAddr, len(ifi.HardwareAddr))
		pkt, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, vip, zero, vip)
		if err != nil {
			return fmt.Errorf("n%d arp packet: %w", i, err)
		}
		if err := c.WriteTo(pkt, ethernet.Broadcast); err != nil {
			return fmt.Errorf("n%d gratuitous ARP %s: %w", i, vip, err)
		}
		return nil
	})
}
