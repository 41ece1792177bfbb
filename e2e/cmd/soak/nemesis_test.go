package main

import (
	"slices"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/history"
)

// impairNobody are the kinds that impair no node: a call or a rogue host.
var impairNobody = []string{"transfer", "mistake_vip", "mistake_join", "rogue"}

// TestDraws: whatever the seed, every fault kind draws nodes of the cluster,
// splits into two disjoint non-empty sides, keeps a partition's affected
// side a minority and a quorum loss a majority, and a duration in range.
func TestDraws(t *testing.T) {
	for _, nodes := range []int{3, 5} {
		r := &run{cfg: config{nodes: nodes}, busy: map[int]bool{}, active: map[int]string{}}
		r.leader.Store(2)
		quorum := nodes/2 + 1
		for seed := int64(1); seed <= 200; seed++ {
			rng := newRand(seed)
			for k := range catalogue {
				kind := &catalogue[k]
				p := &plan{kind: kind}
				if !kind.draw(r, rng, p) {
					t.Fatalf("%s did not draw with a leader known", kind.name)
				}
				for _, n := range append(slices.Clone(p.targets), p.affected...) {
					if n < 1 || n > nodes {
						t.Fatalf("%s drew node %d of %d", kind.name, n, nodes)
					}
				}
				if len(p.affected) == 0 && !slices.Contains(impairNobody, kind.name) {
					t.Errorf("%s affects nobody", kind.name)
				}
				if p.a != nil || p.b != nil {
					if len(p.a) == 0 || len(p.b) == 0 || slices.ContainsFunc(p.a, func(n int) bool { return slices.Contains(p.b, n) }) {
						t.Fatalf("%s sides %v | %v", kind.name, p.a, p.b)
					}
				}
				switch kind.name {
				case "partition_leader", "partition_split":
					if len(p.affected) >= quorum || !slices.Equal(p.affected, p.a) {
						t.Fatalf("%s affects %v, sides %v | %v", kind.name, p.affected, p.a, p.b)
					}
				case "bridge":
					if len(p.a)+len(p.b) != nodes-1 {
						t.Fatalf("bridge sides %v | %v leave no bridge", p.a, p.b)
					}
				case "quorum_loss":
					if len(p.targets) != quorum || !kind.exclusive {
						t.Fatalf("quorum_loss takes %v", p.targets)
					}
				case "loss":
					if !slices.Contains([]int{1, 5, 20}, p.pct) {
						t.Fatalf("loss %d%%", p.pct)
					}
				case "freeze_short":
					if p.dur < 70*time.Millisecond || p.dur >= 500*time.Millisecond {
						t.Fatalf("short freeze of %v", p.dur)
					}
				case "mistake_vip", "mistake_join":
					if p.via < 1 || p.via > nodes || p.member < 1 || p.member > nodes {
						t.Fatalf("%s through n%d naming n%d of %d", kind.name, p.via, p.member, nodes)
					}
					if !slices.Equal(p.targets, []int{p.member}) {
						t.Fatalf("%s names n%d but claims %v: a leave_join could take n%d out meanwhile", kind.name, p.member, p.targets, p.member)
					}
				case "rebuild_bootstrap":
					if !kind.exclusive {
						t.Fatal("rebuild_bootstrap runs beside other faults: a node cut off from its peers would bootstrap a second cluster")
					}
				case "link_flap":
					var sum time.Duration
					for _, f := range p.flips {
						sum += f
					}
					if sum < p.dur {
						t.Fatalf("flips %v cover %v of %v", p.flips, sum, p.dur)
					}
				}
				if !slices.Contains(impairNobody, kind.name) && (p.dur <= 0 || p.dur > 10*time.Second) {
					t.Fatalf("%s lasts %v", kind.name, p.dur)
				}
			}
		}
	}
}

// TestClaim: a fault starts only with a free slot and free nodes, and an
// exclusive one only alone.
func TestClaim(t *testing.T) {
	r := &run{cfg: config{nodes: 3}, busy: map[int]bool{}, active: map[int]string{}}
	kill, quorum := &catalogue[0], (*faultKind)(nil)
	for k := range catalogue {
		if catalogue[k].exclusive {
			quorum = &catalogue[k]
		}
	}
	if !r.claim(&plan{kind: kill, targets: []int{1}}) {
		t.Fatal("the first fault was refused")
	}
	if r.claim(&plan{kind: kill, targets: []int{1}}) {
		t.Error("a second fault on a busy node was accepted")
	}
	if r.claim(&plan{kind: quorum, targets: []int{2, 3}}) {
		t.Error("an exclusive fault was accepted beside another")
	}
	if !r.claim(&plan{kind: kill, targets: []int{2}}) {
		t.Error("a second fault on a free node was refused")
	}
	if r.claim(&plan{kind: kill, targets: []int{3}}) {
		t.Errorf("a third fault was accepted with %d slots", r.maxActive())
	}
}

// TestGone: a leave whose retry is refused as an unknown member took effect
// (an earlier attempt went unanswered but was applied): the nemesis must
// replace the node, not leave it running outside the cluster and name it as
// a member afterwards. Any other refusal or no answer settles nothing.
func TestGone(t *testing.T) {
	for code, want := range map[int]bool{200: true, 404: true, 0: false, 409: false, 502: false, 503: false} {
		if got := gone(history.Call{Op: history.OpLeave, Code: code}); got != want {
			t.Errorf("gone(leave answered %d) = %v, want %v", code, got, want)
		}
	}
}
