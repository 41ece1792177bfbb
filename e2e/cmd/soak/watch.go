package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/history"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// sampleHolders records, every sampleEvery, which VIPs each node's kernel
// holds (one netlink dump per node), and keeps r.leader current.
func (r *run) sampleHolders(ctx context.Context) {
	watched := map[netip.Addr]bool{mainVIP.Addr(): true}
	for _, v := range vipPool {
		watched[v.Addr()] = true
	}
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		e := history.Event{T: r.rec.Since(time.Now()), Kind: history.KindHolders}
		held, err := r.readHolders(watched)
		if err != nil {
			e.Err = err.Error()
		} else {
			e.Held = held
			sole := 0
			for i, addrs := range held {
				if slices.Contains(addrs, mainVIP.Addr().String()) {
					sole = map[bool]int{true: i + 1, false: -1}[sole == 0]
				}
			}
			r.leader.Store(int32(max(sole, 0)))
		}
		r.rec.Add(e)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readHolders reads the watched addresses of every node.
func (r *run) readHolders(watched map[netip.Addr]bool) ([][]string, error) {
	return confirmedHolders(r.cfg.nodes, func(i int) ([]string, error) {
		addrs, err := r.lab.Addrs(i)
		var out []string
		for _, a := range addrs {
			if watched[a] {
				out = append(out, a.String())
			}
		}
		return out, err
	})
}

// confirmedHolders reads the addresses of nodes 1..n, one after the other.
// The reads are not simultaneous: a VIP moving from n1 to n2 between the
// read of n1 and that of n2 would look held twice. So when an address shows
// two holders, every node but the last is read again, and an address counts
// as held only if both reads saw it: such a node held it from before to
// after the last node's read, so the holders really overlapped.
func confirmedHolders(n int, read func(i int) ([]string, error)) ([][]string, error) {
	held := make([][]string, n)
	count := map[string]int{}
	dual := false
	for i := range held {
		var err error
		if held[i], err = read(i + 1); err != nil {
			return nil, err
		}
		for _, a := range held[i] {
			count[a]++
			dual = dual || count[a] > 1
		}
	}
	if !dual {
		return held, nil
	}
	for i := range n - 1 {
		again, err := read(i + 1)
		if err != nil {
			return nil, err
		}
		held[i] = slices.DeleteFunc(held[i], func(a string) bool { return !slices.Contains(again, a) })
	}
	return held, nil
}

// sampleResources records every node daemon's RSS, open files and
// goroutines every resEvery.
func (r *run) sampleResources(ctx context.Context) {
	t := time.NewTicker(resEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i := 1; i <= r.cfg.nodes; i++ {
			p := r.c.Proc(i)
			if p == nil || !p.Running() {
				continue
			}
			res := history.Res{RSSKiB: -1, FDs: -1, Goroutines: -1}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID())); err == nil {
				if kib, err := bench.RSSKiB(string(b)); err == nil {
					res.RSSKiB = float64(kib)
				}
			}
			if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID())); err == nil {
				res.FDs = float64(len(fds))
			}
			mctx, cancel := context.WithTimeout(ctx, time.Second)
			if g, err := r.c.Metric(mctx, i, "go_goroutines"); err == nil {
				res.Goroutines = g
			}
			cancel()
			r.rec.Add(history.Event{Kind: history.KindRes, Node: i, PID: p.PID(), Res: &res})
		}
	}
}

// live prints the checker's one-line summary every 10 s.
func (r *run) live(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.say("%s", history.Live(r.rec.Events()))
		}
	}
}

// call makes one API call to node i and records it with its answer.
func (r *run) call(ctx context.Context, i int, op, arg, method, path string, body any) history.Call {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body) // plain maps of strings
	}
	ctx, cancel := context.WithTimeout(ctx, apiWait)
	defer cancel()
	began := time.Now()
	code, resp, err := r.c.Call(ctx, i, method, path, b)
	c := history.Call{Op: op, Arg: arg, Code: code, Body: strings.TrimSpace(string(resp)), Took: time.Since(began)}
	if len(c.Body) > 200 {
		c.Body = c.Body[:200]
	}
	e := history.Event{T: r.rec.Since(began), Kind: history.KindAPI, Node: i, Call: &c}
	if err != nil {
		e.Err = err.Error()
	}
	r.rec.Add(e)
	return c
}

// churn adds and removes pool VIPs through random nodes' APIs until ctx ends,
// one call at a time, so that calls on one VIP never overlap.
func (r *run) churn(ctx context.Context) {
	rng := newRand(r.cfg.seed + 1)
	for {
		sleep(ctx, time.Duration(1000+rng.IntN(3000))*time.Millisecond)
		if ctx.Err() != nil {
			return
		}
		v := vipPool[rng.IntN(len(vipPool))]
		i := 1 + rng.IntN(r.cfg.nodes)
		var c history.Call
		if r.vipsOn[v.String()] {
			c = r.call(ctx, i, history.OpVIPRemove, v.String(), http.MethodDelete, "/v1/vips/"+v.Addr().String(), nil)
			if c.Acked() {
				r.vipsOn[v.String()] = false
			}
		} else {
			c = r.call(ctx, i, history.OpVIPAdd, v.String(), http.MethodPost, "/v1/vips", map[string]string{"prefix": v.String()})
			if c.Acked() {
				r.vipsOn[v.String()] = true
			}
		}
	}
}

// finals reads every node's state through its API until they agree or a
// minute passes, and records the last reading of each.
func (r *run) finals(ctx context.Context) {
	deadline := time.Now().Add(time.Minute)
	for {
		evs := make([]history.Event, r.cfg.nodes)
		agree := true
		for i := 1; i <= r.cfg.nodes; i++ {
			evs[i-1] = r.finalOf(ctx, i)
			a, b := evs[0].Final, evs[i-1].Final
			if a == nil || b == nil || b.State == "Candidate" ||
				!slices.Equal(a.VIPs, b.VIPs) || !slices.Equal(a.Members, b.Members) || a.Owner != b.Owner || a.LeaderID != b.LeaderID {
				agree = false
			}
		}
		if agree || time.Now().After(deadline) || ctx.Err() != nil {
			for _, e := range evs {
				r.rec.Add(e)
			}
			if !agree {
				r.say("soak: the nodes did not agree within a minute after the quiet tail")
			}
			return
		}
		sleep(ctx, time.Second)
	}
}

// finalOf reads node i's state from /v1/status, /v1/vips and /v1/members.
func (r *run) finalOf(ctx context.Context, i int) history.Event {
	e := history.Event{Kind: history.KindFinal, Node: i}
	ctx, cancel := context.WithTimeout(ctx, apiWait)
	defer cancel()
	st, err := r.c.StatusOf(ctx, i)
	var vips struct {
		VIPs []struct {
			Prefix string `json:"prefix"`
		} `json:"vips"`
	}
	var members struct {
		Members []rig.Member `json:"members"`
	}
	if err == nil {
		err = r.getJSON(ctx, i, "/v1/vips", &vips)
	}
	if err == nil {
		err = r.getJSON(ctx, i, "/v1/members", &members)
	}
	e.T = r.rec.Since(time.Now())
	if err != nil {
		e.Err = err.Error()
		return e
	}
	f := &history.Final{State: st.State, LeaderID: st.LeaderID, Owner: st.Owner.Node}
	for _, v := range vips.VIPs {
		f.VIPs = append(f.VIPs, v.Prefix)
	}
	var fromStatus []string
	for _, v := range st.VIPs {
		fromStatus = append(fromStatus, v.Prefix)
	}
	slices.Sort(f.VIPs)
	slices.Sort(fromStatus)
	for _, m := range members.Members {
		f.Members = append(f.Members, m.ID+":"+strings.ToLower(m.Suffrage))
	}
	slices.Sort(f.Members)
	if !slices.Equal(f.VIPs, fromStatus) {
		e.Err = fmt.Sprintf("/v1/vips %v and /v1/status %v disagree", f.VIPs, fromStatus)
	}
	e.Final = f
	return e
}

func (r *run) getJSON(ctx context.Context, i int, path string, v any) error {
	code, body, err := r.c.Call(ctx, i, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s on n%d: HTTP %d", path, i, code)
	}
	return json.Unmarshal(body, v)
}

// scanLogs records the lines of the node logs that show a Go panic or a
// fatal runtime error.
func (r *run) scanLogs() {
	for i := 1; i <= r.cfg.nodes; i++ {
		f, err := os.Open(r.lab.LogPath(i))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") || strings.Contains(line, "DATA RACE") {
				r.rec.Add(history.Event{Kind: history.KindPanic, Node: i, Line: line})
			}
		}
		f.Close()
	}
}
