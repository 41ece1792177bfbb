package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
)

// FSM applies commands to State. It is safe for concurrent use: Raft applies
// while the reconciler and the API read.
type FSM struct {
	mu sync.RWMutex
	st State
}

// New returns an FSM holding the empty state.
func New() *FSM { return &FSM{} }

// State returns a copy of the current state.
func (f *FSM) State() State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Clone()
}

// Owner returns the current owner without copying the whole state.
func (f *FSM) Owner() Owner {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Owner
}

// Members returns a copy of the members without copying the VIP set: the
// leadership loop reads them often, and the set may hold hundreds of VIPs.
func (f *FSM) Members() map[string]Member {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return maps.Clone(f.st.Members)
}

// Apply decodes data, written at logTerm, and applies it. A command that is
// rejected (a stale claim, removing an absent VIP) leaves the state unchanged and
// returns the reason; so does a damaged entry, which must not stop the node.
func (f *FSM) Apply(logTerm uint64, data []byte) error {
	c, err := Decode(data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	next, err := Next(f.st, logTerm, c)
	if err != nil {
		return err
	}
	f.st = next
	return nil
}

// Next returns the state after applying c, written at logTerm, to s. s is not
// modified.
func Next(s State, logTerm uint64, c Command) (State, error) {
	n := s.Clone()
	switch c.Type {
	case TypeClaim:
		// The claim must carry the term of its own log entry: that is what proves
		// it was committed by a leader of that term, and a claim replayed or
		// delayed from an older term can never displace a newer owner.
		if c.Term != logTerm {
			return s, fmt.Errorf("%w: claim for term %d written in term %d", ErrStaleClaim, c.Term, logTerm)
		}
		if c.Term < s.Owner.Term || (c.Term == s.Owner.Term && c.Node != s.Owner.Node) {
			return s, fmt.Errorf("%w: claim by %s in term %d, owner is %s since term %d",
				ErrStaleClaim, c.Node, c.Term, s.Owner.Node, s.Owner.Term)
		}
		prev := s.Owner.Node
		if c.Node == prev {
			prev = s.Owner.Previous // a re-claim in a later term is not a move
		}
		n.Owner = Owner{Node: c.Node, Term: c.Term, Previous: prev, Since: c.At, Takeover: c.Takeover}
		if c.Term > s.Owner.Term {
			recordClaim(&n, s, c)
		}
	case TypeHandover:
		// Recorded whoever sends it: only a claim displacing that node, in
		// the term the handover was written in, consumes it (recordClaim).
		n.Handover = &Handover{From: c.Node, To: c.To, Reason: c.Reason, Term: logTerm, At: c.At}
	case TypeAddVIP:
		n.VIPs = upsert(n.VIPs, *c.VIP)
	case TypeRemoveVIP:
		before := len(n.VIPs)
		n.VIPs = slices.DeleteFunc(n.VIPs, func(o VIP) bool { return o.Prefix.Addr() == c.Addr })
		if len(n.VIPs) == before {
			return s, fmt.Errorf("%w: %s", ErrNoSuchVIP, c.Addr)
		}
	case TypeSeedVIPs:
		if s.Seeded {
			return s, nil
		}
		n.Seeded = true
		for _, v := range c.VIPs {
			n.VIPs = upsert(n.VIPs, v)
		}
	case TypeSetMember:
		if n.Members == nil {
			n.Members = map[string]Member{}
		}
		m := n.Members[c.Node]
		m.APIAddr = c.APIAddr
		n.Members[c.Node] = m
	case TypeSetHealth:
		if n.Members == nil {
			n.Members = map[string]Member{}
		}
		m := n.Members[c.Node]
		m.Health = Health{Reported: true, Healthy: c.Healthy, Fault: c.Fault, Priority: c.Priority}
		n.Members[c.Node] = withRole(m, c)
	case TypeRemoveMember:
		delete(n.Members, c.Node)
	default:
		return s, fmt.Errorf("%w: %s", ErrUnknownCommand, c.Type)
	}
	return n, nil
}

// upsert replaces the VIP with v's address, or adds v, keeping vs sorted by
// address: one address is one VIP, whatever its prefix length or label.
func upsert(vs []VIP, v VIP) []VIP {
	vs = slices.DeleteFunc(vs, func(o VIP) bool { return o.Prefix.Addr() == v.Prefix.Addr() })
	vs = append(vs, v)
	sortVIPsByAddr(vs)
	return vs
}

// snapshotVersion is written into every snapshot; Restore refuses others.
const snapshotVersion = 1

type snapshot struct {
	Version int   `json:"version"`
	State   State `json:"state"`
}

// Snapshot returns the encoded state. The bytes are self-contained, so Raft can
// persist them while Apply goes on.
func (f *FSM) Snapshot() ([]byte, error) {
	b, err := json.Marshal(snapshot{Version: snapshotVersion, State: f.State()})
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return b, nil
}

// Restore replaces the state with the one read from r. On error the current
// state is kept.
func (f *FSM) Restore(r io.Reader) error {
	st, err := DecodeSnapshot(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
	return nil
}

// DecodeSnapshot parses a snapshot written by Snapshot. Like Decode it checks
// only that the snapshot is well formed: the state in it was built from
// entries that every replica applied, whatever rules their writers had.
func DecodeSnapshot(r io.Reader) (State, error) {
	var s snapshot
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("decode snapshot: %w: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return State{}, fmt.Errorf("decode snapshot: %w: data after the snapshot", ErrMalformed)
	}
	if s.Version != snapshotVersion {
		return State{}, fmt.Errorf("decode snapshot: %w: %d (this build reads %d)", ErrUnsupportedVersion, s.Version, snapshotVersion)
	}
	for i, v := range s.State.VIPs {
		if !v.Prefix.IsValid() {
			return State{}, fmt.Errorf("decode snapshot: %w: vips[%d] has no prefix", ErrMalformed, i)
		}
	}
	sortVIPsByAddr(s.State.VIPs)
	s.State.History = trimHistory(s.State.History)
	return s.State, nil
}
