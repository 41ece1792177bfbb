package netopstest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/raftvip/raftvip/netops"
)

// Hosts fakes the other hosts on a LAN segment for the reconciler's Prober
// and Watcher: addresses they answer for, and announcements they make. Probe
// and Watch are recorded. It is safe for concurrent use.
type Hosts struct {
	mu       sync.Mutex
	answers  map[netip.Addr]net.HardwareAddr
	fail     error
	wait     time.Duration
	probes   []string
	inFlight int
	most     int                              // the most probes under way at once
	watchers map[string]func(netops.Sighting) // by "link v4|v6"
}

var (
	_ netops.Prober  = (*Hosts)(nil)
	_ netops.Watcher = (*Hosts)(nil)
)

// NewHosts returns a LAN where no other host answers for anything.
func NewHosts() *Hosts {
	return &Hosts{answers: map[netip.Addr]net.HardwareAddr{}, watchers: map[string]func(netops.Sighting){}}
}

// Claim makes the host with mac answer probes for ip; Leave stops it.
func (h *Hosts) Claim(ip netip.Addr, mac net.HardwareAddr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answers[ip] = mac
}

// Leave makes nobody answer for ip.
func (h *Hosts) Leave(ip netip.Addr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.answers, ip)
}

// Fail makes every later Probe return err; nil heals it.
func (h *Hosts) Fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = err
}

// Wait makes every later Probe wait d (or until its context ends) before it
// returns, as a real probe waits for an answer that does not come.
func (h *Hosts) Wait(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wait = d
}

// Probe implements netops.Prober: it records "probe <ip> <link>".
func (h *Hosts) Probe(ctx context.Context, link string, ip netip.Addr) (net.HardwareAddr, error) {
	h.mu.Lock()
	h.probes = append(h.probes, fmt.Sprintf("probe %s %s", ip, link))
	h.inFlight++
	h.most = max(h.most, h.inFlight)
	wait := h.wait
	h.mu.Unlock()
	select {
	case <-time.After(wait):
	case <-ctx.Done():
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inFlight--
	if h.fail != nil {
		return nil, h.fail
	}
	return h.answers[ip], nil
}

// MostInFlight returns the most probes that were under way at once.
func (h *Hosts) MostInFlight() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.most
}

// Probes returns the recorded probes, in order.
func (h *Hosts) Probes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.probes)
}

// Watch implements netops.Watcher: it delivers Announce calls for link and
// the family until ctx ends.
func (h *Hosts) Watch(ctx context.Context, link string, ip6 bool, seen func(netops.Sighting)) error {
	k := watchKey(link, ip6)
	h.mu.Lock()
	if h.watchers[k] != nil {
		h.mu.Unlock()
		return fmt.Errorf("two watchers on %s", k)
	}
	h.watchers[k] = seen
	h.mu.Unlock()
	<-ctx.Done()
	h.mu.Lock()
	delete(h.watchers, k)
	h.mu.Unlock()
	return nil
}

// Watching returns the links and families watched now ("eth0 v4"), sorted.
func (h *Hosts) Watching() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for k := range h.watchers {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Announce makes the host with mac announce ip on link, and reports whether a
// watcher heard it.
func (h *Hosts) Announce(link string, ip netip.Addr, mac net.HardwareAddr) bool {
	h.mu.Lock()
	seen := h.watchers[watchKey(link, ip.Is6())]
	h.mu.Unlock()
	if seen == nil {
		return false
	}
	seen(netops.Sighting{Link: link, IP: ip, MAC: mac})
	return true
}

func watchKey(link string, ip6 bool) string {
	if ip6 {
		return link + " v6"
	}
	return link + " v4"
}
