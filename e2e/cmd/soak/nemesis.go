package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/history"
	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// plan is one drawn fault: whom it hits and for how long.
type plan struct {
	kind     *faultKind
	targets  []int
	affected []int
	// a and b are the sides of a split; pct the loss; flips the link
	// flap's down/up intervals, or the gaps between a rogue's announcements.
	a, b   []int
	pct    int
	dur    time.Duration
	flips  []time.Duration
	detail string
	// An operator mistake: the node the call goes through, the member it
	// names and which of the kind's mistakes it is.
	via, member, variant int
}

// faultKind is one entry of the catalogue: draw picks targets and a duration
// (false: not possible now), inject runs the fault to its end, healing
// included.
type faultKind struct {
	name   string
	weight int
	// exclusive faults run alone: no other fault starts while one runs.
	exclusive bool
	draw      func(r *run, rng *rand.Rand, p *plan) bool
	inject    func(ctx context.Context, r *run, p *plan) error
}

// catalogue is every fault the nemesis knows. Node-level faults draw nodes
// no other running fault owns, so that, say, a restart never races a kill.
var catalogue = []faultKind{
	{name: "host_down", weight: 8, draw: drawNode(1, 6), inject: injectHostDown},
	{name: "link_flap", weight: 5, draw: drawLinkFlap, inject: injectLinkFlap},
	{name: "partition_leader", weight: 8, draw: drawPartitionLeader, inject: injectSplit},
	{name: "partition_split", weight: 6, draw: drawMinority, inject: injectSplit},
	{name: "bridge", weight: 4, draw: drawBridge, inject: injectSplit},
	{name: "oneway", weight: 5, draw: drawOneway, inject: injectOneway},
	{name: "loss", weight: 6, draw: drawLoss, inject: injectLoss},
	{name: "kill", weight: 8, draw: drawNode(0.5, 5), inject: injectKill},
	{name: "freeze_short", weight: 6, draw: drawNodeMs(70, 500), inject: injectFreeze},
	{name: "freeze_long", weight: 5, draw: drawNode(1, 6), inject: injectFreeze},
	{name: "term", weight: 6, draw: drawNode(0.5, 3), inject: injectTerm},
	{name: "transfer", weight: 6, draw: drawTransfer, inject: injectTransfer},
	{name: "leave_join", weight: 3, draw: drawFollower, inject: injectLeaveJoin},
	{name: "quorum_loss", weight: 3, exclusive: true, draw: drawQuorumLoss, inject: injectQuorumLoss},
	{name: "mistake_vip", weight: 2, draw: drawMistake(1), inject: injectMistakeVIP},
	{name: "mistake_join", weight: 2, draw: drawMistake(4), inject: injectMistakeJoin},
	{name: "rebuild_bootstrap", weight: 2, exclusive: true, draw: drawNode(1, 3), inject: injectRebuildBootstrap},
	{name: "rogue", weight: 3, draw: drawRogue, inject: injectRogue},
}

func kindNames() string {
	var n []string
	for _, k := range catalogue {
		n = append(n, k.name)
	}
	return strings.Join(n, ", ")
}

// lockedRand is a seeded source safe for the nemesis's goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) Uint64() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Uint64()
}

func newRand(seed int64) *rand.Rand {
	return rand.New(&lockedRand{r: rand.New(rand.NewPCG(uint64(seed), 0x5eed))})
}

// maxActive is how many faults may run at once.
func (r *run) maxActive() int {
	if r.cfg.nodes >= 5 {
		return 3
	}
	return 2
}

// nemesis draws a fault after every gap until `until`, starts it when the
// concurrency bound and its nodes allow, and returns once every fault it
// started has healed.
func (r *run) nemesis(ctx context.Context, until time.Time) {
	rng := newRand(r.cfg.seed)
	var kinds []*faultKind
	total := 0
	for k := range catalogue {
		if !slices.Contains(r.cfg.exclude, catalogue[k].name) {
			kinds = append(kinds, &catalogue[k])
			total += catalogue[k].weight
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for time.Now().Before(until) && ctx.Err() == nil {
		sleep(ctx, r.gap(rng))
		n := rng.IntN(total)
		var k *faultKind
		for _, c := range kinds {
			if n -= c.weight; n < 0 {
				k = c
				break
			}
		}
		p := &plan{kind: k}
		if !k.draw(r, rng, p) || !r.claim(p) {
			continue
		}
		wg.Go(func() { r.runFault(ctx, p) })
	}
}

// gap is the pause before the next draw: 0.5-3 s, and one time in four a
// calm of 8-15 s, so that the cluster also spends time with a healthy
// quorum past the settle time, where invariant 2 holds it to account.
func (r *run) gap(rng *rand.Rand) time.Duration {
	if rng.IntN(4) == 0 {
		return secs(rng, 8, 15)
	}
	return secs(rng, 0.5, 3)
}

// claim reserves p's nodes and a slot, or reports false.
func (r *run) claim(p *plan) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.active) >= r.maxActive() || r.excl || (p.kind.exclusive && len(r.active) > 0) {
		return false
	}
	for _, t := range p.targets {
		if r.busy[t] {
			return false
		}
	}
	if p.kind.name == "leave_join" && slices.Contains(slices.Collect(maps.Values(r.active)), "leave_join") {
		return false
	}
	for _, t := range p.targets {
		r.busy[t] = true
	}
	r.nextID++
	r.active[r.nextID] = p.kind.name
	r.excl = p.kind.exclusive
	return true
}

func (r *run) runFault(ctx context.Context, p *plan) {
	r.mu.Lock()
	id := r.nextID
	r.mu.Unlock()
	f := history.Fault{ID: id, Kind: p.kind.name, Targets: p.targets, Affected: p.affected, Detail: p.detail}
	start := f
	start.Phase = history.PhaseStart
	r.rec.Add(history.Event{Kind: history.KindFault, Fault: &start})
	r.say("t=%v fault #%d %s on %s for %v %s", r.rec.Since(time.Now()).Round(time.Millisecond), id, f.Kind, nodeList(p.targets), p.dur.Round(time.Millisecond), p.detail)
	if err := p.kind.inject(ctx, r, p); err != nil {
		f.Detail = "error: " + err.Error()
		r.say("fault #%d %s: %v", id, f.Kind, err)
	}
	end := f
	end.Phase = history.PhaseEnd
	r.rec.Add(history.Event{Kind: history.KindFault, Fault: &end})
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range p.targets {
		delete(r.busy, t)
	}
	if p.kind.exclusive {
		r.excl = false
	}
	delete(r.active, id)
}

// --- drawing targets ---

// leaderOr is the current holder of the main VIP with probability 0.6 (the
// leader draws most faults), else a random node.
func (r *run) leaderOr(rng *rand.Rand) int {
	if l := int(r.leader.Load()); l > 0 && rng.Float64() < 0.6 {
		return l
	}
	return 1 + rng.IntN(r.cfg.nodes)
}

func secs(rng *rand.Rand, lo, hi float64) time.Duration {
	return time.Duration((lo + rng.Float64()*(hi-lo)) * float64(time.Second))
}

// drawNode targets one node (the leader more often) for lo..hi seconds.
func drawNode(lo, hi float64) func(*run, *rand.Rand, *plan) bool {
	return func(r *run, rng *rand.Rand, p *plan) bool {
		t := r.leaderOr(rng)
		p.targets, p.affected, p.dur = []int{t}, []int{t}, secs(rng, lo, hi)
		return true
	}
}

// drawNodeMs is drawNode in milliseconds, for short freezes.
func drawNodeMs(lo, hi int) func(*run, *rand.Rand, *plan) bool {
	return func(r *run, rng *rand.Rand, p *plan) bool {
		t := r.leaderOr(rng)
		p.targets, p.affected, p.dur = []int{t}, []int{t}, time.Duration(lo+rng.IntN(hi-lo))*time.Millisecond
		return true
	}
}

func drawLinkFlap(r *run, rng *rand.Rand, p *plan) bool {
	l := int(r.leader.Load())
	if l == 0 {
		return false
	}
	p.targets, p.affected, p.dur = []int{l}, []int{l}, secs(rng, 2, 5)
	for sum := time.Duration(0); sum < p.dur; {
		d := time.Duration(100+rng.IntN(300)) * time.Millisecond
		p.flips, sum = append(p.flips, d), sum+d
	}
	return true
}

// others is every node but those in not.
func (r *run) others(not ...int) []int {
	var out []int
	for i := 1; i <= r.cfg.nodes; i++ {
		if !slices.Contains(not, i) {
			out = append(out, i)
		}
	}
	return out
}

func drawPartitionLeader(r *run, rng *rand.Rand, p *plan) bool {
	l := int(r.leader.Load())
	if l == 0 {
		return false
	}
	p.a, p.b = []int{l}, r.others(l)
	p.targets, p.affected, p.dur = r.others(), []int{l}, secs(rng, 2, 8)
	p.detail = fmt.Sprintf("%s | %s", nodeList(p.a), nodeList(p.b))
	return true
}

func drawMinority(r *run, rng *rand.Rand, p *plan) bool {
	perm := permute(rng, r.cfg.nodes)
	size := 1 + rng.IntN(r.cfg.nodes/2)
	p.a, p.b = sorted(perm[:size]), sorted(perm[size:])
	p.targets, p.affected, p.dur = r.others(), p.a, secs(rng, 2, 8)
	p.detail = fmt.Sprintf("%s | %s", nodeList(p.a), nodeList(p.b))
	return true
}

// drawBridge splits the nodes but one into two sides; that one sees both.
func drawBridge(r *run, rng *rand.Rand, p *plan) bool {
	perm := permute(rng, r.cfg.nodes)
	bridge, rest := perm[0], perm[1:]
	half := len(rest) / 2
	p.a, p.b = sorted(rest[:half]), sorted(rest[half:])
	p.targets, p.affected, p.dur = r.others(), sorted(rest), secs(rng, 2, 8)
	p.detail = fmt.Sprintf("%s | %s, bridged by n%d", nodeList(p.a), nodeList(p.b), bridge)
	return true
}

func drawOneway(r *run, rng *rand.Rand, p *plan) bool {
	from := r.leaderOr(rng)
	others := r.others(from)
	to := others[rng.IntN(len(others))]
	if rng.IntN(2) == 0 {
		from, to = to, from // the leader deaf rather than mute
	}
	p.a, p.b = []int{from}, []int{to}
	p.targets, p.affected, p.dur = []int{from, to}, sorted([]int{from, to}), secs(rng, 2, 8)
	p.detail = fmt.Sprintf("n%d's frames do not reach n%d", from, to)
	return true
}

func drawLoss(r *run, rng *rand.Rand, p *plan) bool {
	p.pct = []int{1, 5, 20}[rng.IntN(3)]
	if rng.Float64() < 0.3 {
		p.targets = r.others()
	} else {
		p.targets = []int{r.leaderOr(rng)}
	}
	p.affected, p.dur = p.targets, secs(rng, 3, 10)
	p.detail = fmt.Sprintf("%d%% loss", p.pct)
	return true
}

func drawTransfer(r *run, rng *rand.Rand, p *plan) bool {
	l := int(r.leader.Load())
	if l == 0 {
		return false
	}
	p.targets, p.affected = []int{1 + rng.IntN(r.cfg.nodes)}, []int{l}
	return true
}

func drawFollower(r *run, rng *rand.Rand, p *plan) bool {
	l := int(r.leader.Load())
	if l == 0 {
		return false
	}
	f := r.others(l)
	t := f[rng.IntN(len(f))]
	p.targets, p.affected, p.dur = []int{t}, []int{t}, secs(rng, 1, 4)
	return true
}

// drawQuorumLoss takes a majority down, or (half the time) cuts each of its
// nodes from every other node while the client still reaches them all.
func drawQuorumLoss(r *run, rng *rand.Rand, p *plan) bool {
	perm := permute(rng, r.cfg.nodes)
	p.targets = sorted(perm[:r.cfg.nodes/2+1])
	p.affected, p.dur = p.targets, secs(rng, 2, 8)
	p.detail = "hosts down"
	if rng.IntN(2) == 0 {
		p.detail = "each cut from every other node"
	}
	return true
}

func permute(rng *rand.Rand, n int) []int {
	out := make([]int, n)
	for k, v := range rng.Perm(n) {
		out[k] = v + 1
	}
	return out
}

func sorted(s []int) []int { return slices.Sorted(slices.Values(s)) }

func nodeList(s []int) string {
	n := make([]string, len(s))
	for k, v := range s {
		n[k] = lab.NodeName(v)
	}
	return "{" + strings.Join(n, ",") + "}"
}

// --- injecting ---

func injectHostDown(ctx context.Context, r *run, p *plan) error {
	t := p.targets[0]
	if err := r.lab.HostDown(ctx, t); err != nil {
		return err
	}
	sleep(ctx, p.dur)
	return r.lab.HostUp(context.WithoutCancel(ctx), t)
}

func injectLinkFlap(ctx context.Context, r *run, p *plan) error {
	t := p.targets[0]
	down := false
	for _, d := range p.flips {
		var err error
		if down = !down; down {
			err = r.lab.HostDown(ctx, t)
		} else {
			err = r.lab.HostUp(ctx, t)
		}
		if err != nil {
			break
		}
		sleep(ctx, d)
	}
	return r.lab.HostUp(context.WithoutCancel(ctx), t)
}

func faultKey(p *plan) string { return fmt.Sprintf("%s-%p", p.kind.name, p) }

func injectSplit(ctx context.Context, r *run, p *plan) error {
	key := faultKey(p)
	if err := r.lab.Split(ctx, key, p.a, p.b); err != nil {
		return err
	}
	sleep(ctx, p.dur)
	return r.lab.Unblock(context.WithoutCancel(ctx), key)
}

func injectOneway(ctx context.Context, r *run, p *plan) error {
	key := faultKey(p)
	if err := r.lab.Block(ctx, key, p.a, p.b); err != nil {
		return err
	}
	sleep(ctx, p.dur)
	return r.lab.Unblock(context.WithoutCancel(ctx), key)
}

func injectLoss(ctx context.Context, r *run, p *plan) error {
	key := faultKey(p)
	if err := r.lab.Loss(ctx, key, p.targets, p.pct); err != nil {
		return err
	}
	sleep(ctx, p.dur)
	return r.lab.Unblock(context.WithoutCancel(ctx), key)
}

func injectKill(ctx context.Context, r *run, p *plan) error {
	t := p.targets[0]
	if err := r.signal(t, syscall.SIGKILL, "KILL"); err != nil {
		return err
	}
	sleep(ctx, p.dur)
	_ = r.c.Proc(t).Wait(exitWait) // reaped by now; the watcher records the exit
	return r.start(context.WithoutCancel(ctx), t)
}

func injectFreeze(ctx context.Context, r *run, p *plan) error {
	t := p.targets[0]
	if err := r.signal(t, syscall.SIGSTOP, "STOP"); err != nil {
		return err
	}
	sleep(ctx, p.dur)
	return r.signal(t, syscall.SIGCONT, "CONT")
}

func injectTerm(ctx context.Context, r *run, p *plan) error {
	t := p.targets[0]
	if err := r.stopNode(t); err != nil {
		return err
	}
	sleep(ctx, p.dur)
	return r.start(context.WithoutCancel(ctx), t)
}

// stopNode ends node t's daemon with SIGTERM, and SIGKILL if it does not
// exit within exitWait (the checker flags a daemon that hangs: see the
// history's signals).
func (r *run) stopNode(t int) error {
	if err := r.signal(t, syscall.SIGTERM, "TERM"); err != nil {
		return err
	}
	if err := r.c.Proc(t).Wait(exitWait); errors.Is(err, lab.ErrStillRunning) {
		r.rec.Add(history.Event{Kind: history.KindStuck, Node: t, Line: fmt.Sprintf("did not exit within %v of SIGTERM", exitWait)})
		_ = r.signal(t, syscall.SIGKILL, "KILL")
		_ = r.c.Proc(t).Wait(exitWait)
	}
	return nil
}

func injectTransfer(ctx context.Context, r *run, p *plan) error {
	r.call(ctx, p.targets[0], history.OpTransfer, "", http.MethodPost, "/v1/transfer", nil)
	return nil
}

// injectLeaveJoin removes a follower from the cluster, stops it, empties its
// data dir, joins it again through the API and starts it, as
// docs/operations.md tells an operator to replace a node.
func injectLeaveJoin(ctx context.Context, r *run, p *plan) error {
	t := p.targets[0]
	id := lab.NodeName(t)
	via := func() int { return r.others(t)[int(time.Now().UnixNano()/1000)%(r.cfg.nodes-1)] }
	if !r.retryUntil(ctx, 20*time.Second, gone, func() history.Call {
		return r.call(ctx, via(), history.OpLeave, id, http.MethodPost, "/v1/leave", map[string]string{"id": id})
	}) {
		return fmt.Errorf("leave %s never acknowledged; %s keeps running", id, id)
	}
	if err := r.stopNode(t); err != nil {
		return err
	}
	if err := os.RemoveAll(r.c.DataDir(t)); err != nil {
		return err
	}
	sleep(ctx, p.dur)
	join := map[string]string{"id": id, "raft_addr": fmt.Sprintf("%s:%d", r.lab.NodeIP(t), rig.RaftPort), "api_addr": r.c.APIAddr(t)}
	bg := context.WithoutCancel(ctx)
	if !r.retry(bg, 30*time.Second, func() history.Call {
		return r.call(bg, via(), history.OpJoin, id, http.MethodPost, "/v1/join", join)
	}) {
		// Let the node ask itself, as a fresh node with a join list does;
		// recorded as a join without an answer, so that the checker knows
		// the membership may have changed.
		r.rec.Add(history.Event{Kind: history.KindAPI, Node: t, Err: "the agent joins by itself (-join)",
			Call: &history.Call{Op: history.OpJoin, Arg: id}})
		return r.start(bg, t, "-join", r.c.JoinAddrs(t))
	}
	return r.start(bg, t, []string{}...) // no -join: the leader contacts it
}

// retry repeats call until it is acknowledged or within passes, and reports
// whether it was.
func (r *run) retry(ctx context.Context, within time.Duration, call func() history.Call) bool {
	return r.retryUntil(ctx, within, history.Call.Acked, call)
}

// retryUntil repeats call until done says its answer settles it or within
// passes, and reports whether one did.
func (r *run) retryUntil(ctx context.Context, within time.Duration, done func(history.Call) bool, call func() history.Call) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if done(call()) {
			return true
		}
		sleep(ctx, 500*time.Millisecond)
	}
	return false
}

// gone reports whether a leave's answer says the member is out of the
// cluster: acknowledged, or refused as an unknown member. The second is what
// a retry gets when an earlier attempt went unanswered but was applied; the
// node must then be replaced all the same, or it keeps running outside the
// cluster, and the nemesis would name it as a member for the rest of the run.
func gone(c history.Call) bool { return c.Acked() || c.Code == http.StatusNotFound }

func injectQuorumLoss(ctx context.Context, r *run, p *plan) error {
	if p.detail != "hosts down" {
		key := faultKey(p)
		for k, t := range p.targets {
			if err := r.lab.Split(ctx, fmt.Sprintf("%s-%d", key, k), []int{t}, r.others(t)); err != nil {
				return err
			}
		}
		sleep(ctx, p.dur)
		var first error
		for k := range p.targets {
			if err := r.lab.Unblock(context.WithoutCancel(ctx), fmt.Sprintf("%s-%d", key, k)); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	for _, t := range p.targets {
		if err := r.lab.HostDown(ctx, t); err != nil {
			return err
		}
	}
	sleep(ctx, p.dur)
	var first error
	for _, t := range p.targets {
		if err := r.lab.HostUp(context.WithoutCancel(ctx), t); err != nil && first == nil {
			first = err
		}
	}
	return first
}
