package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func TestNextCheck(t *testing.T) {
	t.Parallel()
	now := time.Now()
	hb, spread := 201*time.Millisecond, 30*time.Millisecond
	for _, tc := range []struct {
		name    string
		state   raft.RaftState
		contact time.Time
		wait    time.Duration
		poke    bool
	}{
		{"a leader is never poked", raft.Leader, now.Add(-time.Second), hb, false},
		{"a candidate is already checking", raft.Candidate, now.Add(-time.Second), hb, false},
		{"no contact yet: raft's own timer decides", raft.Follower, time.Time{}, hb, false},
		{"a fresh contact: look again after the timeout and the spread", raft.Follower, now.Add(-50 * time.Millisecond), 181 * time.Millisecond, false},
		{"just under the timeout: not yet", raft.Follower, now.Add(-hb + time.Millisecond), time.Millisecond + spread, false},
		{"the timeout reached: poke", raft.Follower, now.Add(-hb), hb, true},
		{"long silent: poke", raft.Follower, now.Add(-time.Second), hb, true},
	} {
		wait, poke := nextCheck(tc.state, tc.contact, now, hb, spread)
		if wait != tc.wait || poke != tc.poke {
			t.Errorf("%s: nextCheck = %v, %v; want %v, %v", tc.name, wait, poke, tc.wait, tc.poke)
		}
	}
}

// The configured heartbeat timeout is never below the profile's, so the
// quorum lease's argument holds; a poke lowers it to the profile's.
func TestRaftHeartbeatAboveProfile(t *testing.T) {
	t.Parallel()
	for _, name := range profileNames() {
		tm, err := Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := raft.DefaultConfig()
		cfg.LocalID = "n1"
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = tm.raftHeartbeat(), tm.raftElection(), tm.RaftLease()
		if err := raft.ValidateConfig(cfg); err != nil {
			t.Errorf("%s: raft refuses the configuration: %v", name, err)
		}
		if tm.raftHeartbeat() <= tm.Heartbeat {
			t.Errorf("%s: raft's heartbeat timeout %v is not above the profile's %v: lowering it to poke would check against less",
				name, tm.raftHeartbeat(), tm.Heartbeat)
		}
		cfg.HeartbeatTimeout = tm.Heartbeat // during a poke
		if err := raft.ValidateConfig(cfg); err != nil {
			t.Errorf("%s: raft refuses the poke's configuration: %v", name, err)
		}
	}
}

// A poke makes raft check its contact at once: a lone voter whose own timer
// would wait an hour stands for election and wins as soon as it is poked.
func TestPokeWakesRaftsCheck(t *testing.T) {
	t.Parallel()
	cfg := raft.DefaultConfig()
	cfg.LocalID = "n1"
	cfg.HeartbeatTimeout, cfg.ElectionTimeout = time.Hour, time.Hour
	cfg.LeaderLeaseTimeout = 10 * time.Millisecond
	cfg.Logger = hclog.NewNullLogger()
	store := raft.NewInmemStore()
	addr, trans := raft.NewInmemTransport("n1")
	r, err := raft.NewRaft(cfg, &raft.MockFSM{}, store, store, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Shutdown().Error() }()
	boot := raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}
	if err := r.BootstrapCluster(boot).Error(); err != nil {
		t.Fatal(err)
	}
	if s := r.State(); s != raft.Follower {
		t.Fatalf("state %v before the poke, want Follower (raft's own timer waits an hour)", s)
	}
	before := r.ReloadableConfig()
	if err := pokeCheck(r, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if after := r.ReloadableConfig(); after != before {
		t.Errorf("configuration after the poke %+v, want it restored to %+v", after, before)
	}
	select {
	case <-r.LeaderCh():
	case <-time.After(30 * time.Second):
		t.Fatalf("state %v 30 s after the poke, want Leader", r.State())
	}
}

// watchContact ends with its context.
func TestWatchContactEnds(t *testing.T) {
	t.Parallel()
	tm, _ := Profile("fast")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		watchContact(ctx, &fakeContact{}, tm, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	cancel()
	<-done
}

// Only clusters of up to three voters are watched; a configuration raft
// cannot give counts as small.
func TestWatchedOnlySmallClusters(t *testing.T) {
	t.Parallel()
	members := func(voters, nonvoters int) raft.Configuration {
		var c raft.Configuration
		for i := range voters + nonvoters {
			s := raft.Server{ID: raft.ServerID(fmt.Sprintf("n%d", i+1)), Suffrage: raft.Voter}
			if i >= voters {
				s.Suffrage = raft.Nonvoter
			}
			c.Servers = append(c.Servers, s)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		f    fakeConfig
		want bool
	}{
		{"a pair and its witness", fakeConfig{conf: members(3, 0)}, true},
		{"three voters and a non-voter", fakeConfig{conf: members(3, 1)}, true},
		{"five voters: raft's own timer keeps candidates apart", fakeConfig{conf: members(5, 0)}, false},
		{"no configuration", fakeConfig{err: raft.ErrRaftShutdown}, true},
	} {
		if got := watched(fakeContact{conf: tc.f}); got != tc.want {
			t.Errorf("%s: watched = %v, want %v", tc.name, got, tc.want)
		}
	}
}

type fakeContact struct{ conf fakeConfig }

func (fakeContact) State() raft.RaftState                        { return raft.Leader }
func (fakeContact) LastContact() time.Time                       { return time.Time{} }
func (fakeContact) ReloadableConfig() raft.ReloadableConfig      { return raft.ReloadableConfig{} }
func (fakeContact) ReloadConfig(raft.ReloadableConfig) error     { return nil }
func (f fakeContact) GetConfiguration() raft.ConfigurationFuture { return f.conf }

// fakeConfig is a configuration future already resolved.
type fakeConfig struct {
	conf raft.Configuration
	err  error
}

func (f fakeConfig) Error() error                      { return f.err }
func (fakeConfig) Index() uint64                       { return 0 }
func (f fakeConfig) Configuration() raft.Configuration { return f.conf }
