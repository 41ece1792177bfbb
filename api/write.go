package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

// forwardedHeader marks a write a follower passed to the leader, with the
// follower's ID; a node receiving it never forwards again (loop guard).
const forwardedHeader = "X-Raftvip-Forwarded"

// Decoder problems of our own, named in the 400 answer by jsonProblem.
var (
	errEmptyBody    = errors.New("empty body")
	errTrailingData = errors.New("data after the JSON object")
)

// action is a parsed write, ready to run against the cluster.
type action func(ctx context.Context) error

// parser validates one write request and returns what to do. It only reads;
// nothing happens to the cluster until the action runs.
type parser func(r *http.Request, body []byte) (action, error)

// WriteAnswer is the body of a successful write.
type WriteAnswer struct {
	OK bool `json:"ok"`
	// Index is the leader's applied log index once the change was applied:
	// a read with ?min_index=Index on any node sees the change.
	Index uint64 `json:"index"`
	// Message says what happened when that is more than "done" (transfer).
	Message string `json:"message,omitempty"`
	// Leader is the leader after a transfer.
	Leader string `json:"leader,omitempty"`
	// Moved is false after a transfer that changed nothing.
	Moved *bool `json:"moved,omitempty"`
	// MissingLink are the members that lack the interface of a VIP added
	// with force: they cannot bind it while they hold the VIPs.
	MissingLink []string `json:"missing_link,omitempty"`
}

// resultAction is an action whose answer says more than ok.
type resultAction func(ctx context.Context) (WriteAnswer, error)

// resultParser is a parser for a resultAction.
type resultParser func(r *http.Request, body []byte) (resultAction, error)

// write wraps a parser with what every write shares (writeResult).
func (s *Server) write(parse parser) http.HandlerFunc {
	return s.writeResult(func(r *http.Request, body []byte) (resultAction, error) {
		act, err := parse(r, body)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (WriteAnswer, error) { return WriteAnswer{}, act(ctx) }, nil
	})
}

// writeResult wraps a parser with what every write shares, in the order that
// guarantees a refused request changes nothing: shutdown check,
// authorisation, body, validation, then the action and, on a follower,
// forwarding. A successful answer carries the applied index, once the other
// members have applied it too or settleWait passed (settle), so that a read
// on any node right after it sees the change.
func (s *Server) writeResult(parse resultParser) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.stopped.Load() {
			s.fail(w, r, errShuttingDown)
			return
		}
		if err := s.authorize(r); err != nil {
			s.fail(w, r, err)
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		act, err := parse(r, body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), writeBudget)
		defer cancel()
		ans, err := act(ctx)
		var st cluster.Status
		if errors.Is(err, cluster.ErrNotLeader) {
			// During an election: wait for a leader. If it is this node,
			// the write is done here after all (a node's own health report
			// at start goes through its own API).
			if st = s.awaitLeader(ctx); st.State == cluster.RoleLeader {
				ans, err = act(ctx)
			}
		}
		switch {
		case errors.Is(err, cluster.ErrNotLeader):
			s.notLeader(ctx, w, r, body, err, st)
		case err != nil:
			s.fail(w, r, err)
		default:
			ans.OK = true
			ans.Index = s.settle(ctx)
			writeJSON(w, http.StatusOK, ans)
		}
	}
}

// authorize checks the Bearer token. Both sides are hashed first, so the
// constant-time compare runs on equal lengths and leaks neither the token's
// content nor its length.
func (s *Server) authorize(r *http.Request) error {
	h := r.Header.Get("Authorization")
	const scheme = "Bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return withStatus(http.StatusUnauthorized, errors.New("missing bearer token: writes need Authorization: Bearer <cluster token>"))
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(scheme):])))
	if subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) != 1 {
		return withStatus(http.StatusUnauthorized, errors.New("invalid token"))
	}
	return nil
}

// readBody reads the whole body, at most maxBody bytes. It is kept as bytes
// because a follower sends the same body on to the leader.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, withStatus(http.StatusRequestEntityTooLarge,
			fmt.Errorf("request body larger than %d bytes", tooBig.Limit))
	}
	if err != nil {
		return nil, badRequest("read request body: %w", err)
	}
	return b, nil
}

// decode parses body as exactly one JSON object with only known fields.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("%s", jsonProblem(errEmptyBody))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// Anything after the object, even a stray bracket, is a second value
		// the client meant something by; refuse rather than ignore it.
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errTrailingData
		}
	}
	if err != nil {
		return badRequest("%s", jsonProblem(err))
	}
	return nil
}

// JoinRequest is the body of POST /v1/join: the node to add as a voter.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
}

// idRequest is the body of POST /v1/leave and POST /v1/transfer.
type idRequest struct {
	ID string `json:"id"`
}

// vipRequest is the body of POST /v1/vips. The prefix is a string, not a
// netip.Prefix, so that a bad one is reported by fsm.ParseVIP in its own words.
type vipRequest struct {
	Prefix    string `json:"prefix"`
	Interface string `json:"interface"`
	Label     string `json:"label"`
	// Replace allows changing the prefix length or interface of the VIP
	// with this address; without it such a change is refused (409).
	Replace bool `json:"replace,omitempty"`
	// Force accepts an interface that VIP-capable members reported they
	// lack, and an address another host answers for; without it such a VIP
	// is refused (409) naming them or that host's MAC.
	Force bool `json:"force,omitempty"`
}

func (s *Server) join(_ *http.Request, body []byte) (action, error) {
	var req JoinRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := errors.Join(fsm.ValidateNodeID("id", req.ID), checkHostPort("raft_addr", req.RaftAddr),
		checkHostPort("api_addr", req.APIAddr)); err != nil {
		return nil, badRequest("%s", oneLine(strings.ReplaceAll(err.Error(), "\n", "; ")))
	}
	return func(ctx context.Context) error {
		return s.cluster.Join(ctx, req.ID, req.RaftAddr, req.APIAddr)
	}, nil
}

func (s *Server) leave(_ *http.Request, body []byte) (action, error) {
	var req idRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := fsm.ValidateNodeID("id", req.ID); err != nil {
		return nil, withStatus(http.StatusBadRequest, err)
	}
	return func(ctx context.Context) error { return s.cluster.Leave(ctx, req.ID) }, nil
}

func (s *Server) transfer(_ *http.Request, body []byte) (resultAction, error) {
	var req idRequest
	// An empty body means "any follower", so `curl -X POST .../v1/transfer` works.
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decode(body, &req); err != nil {
			return nil, err
		}
	}
	if req.ID != "" {
		if err := fsm.ValidateNodeID("id", req.ID); err != nil {
			return nil, withStatus(http.StatusBadRequest, err)
		}
	}
	return func(ctx context.Context) (WriteAnswer, error) {
		res, err := s.cluster.Transfer(ctx, req.ID)
		if err != nil {
			return WriteAnswer{}, err
		}
		return transferAnswer(res), nil
	}, nil
}

func (s *Server) addVIP(_ *http.Request, body []byte) (resultAction, error) {
	var req vipRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.Prefix == "" {
		return nil, badRequest("prefix is required (e.g. 192.0.2.101/24)")
	}
	v, err := fsm.ParseVIP(req.Prefix)
	if err == nil {
		v.Interface, v.Label = req.Interface, req.Label
		err = fsm.ValidateVIP(v)
	}
	if err != nil {
		return nil, withStatus(http.StatusBadRequest, err)
	}
	return func(ctx context.Context) (WriteAnswer, error) {
		res, err := s.cluster.AddVIP(ctx, v, cluster.AddVIPOptions{Replace: req.Replace, Force: req.Force})
		if err != nil {
			return WriteAnswer{}, err
		}
		return addVIPAnswer(v, res), nil
	}, nil
}

// addVIPAnswer says what a forced add left to the operator: the members
// that cannot bind the VIP. A plain add needs no words.
func addVIPAnswer(v fsm.VIP, res cluster.AddVIPResult) WriteAnswer {
	if len(res.MissingLink) == 0 {
		return WriteAnswer{}
	}
	return WriteAnswer{MissingLink: res.MissingLink, Message: fmt.Sprintf(
		"added %s (forced): interface %s is not on %s, which cannot bind it while holding the VIPs",
		v.Prefix, v.Interface, strings.Join(res.MissingLink, ", "))}
}

// transferAnswer says what a transfer did, in words the CLI prints as they are.
func transferAnswer(res cluster.TransferResult) WriteAnswer {
	a := WriteAnswer{Leader: res.Leader, Moved: &res.Moved}
	switch {
	case !res.Moved:
		a.Message = fmt.Sprintf("%s already leads: nothing to transfer", res.Leader)
	case res.Leader == "":
		a.Message = "leadership handed over; the new leader is not known yet (see raftvip status)"
	default:
		a.Message = fmt.Sprintf("leadership transferred to %s", res.Leader)
	}
	return a
}

// removeVIP takes an address, or a CIDR whose address it uses, because
// operators copy VIPs from `vip ls`, which prints them with their prefix length.
func (s *Server) removeVIP(r *http.Request, _ []byte) (action, error) {
	raw := r.PathValue("addr")
	if bits := r.PathValue("bits"); bits != "" {
		raw += "/" + bits
	}
	a, err := ParseVIPAddr(raw)
	if err != nil {
		return nil, withStatus(http.StatusBadRequest, err)
	}
	return func(ctx context.Context) error { return s.cluster.Apply(ctx, fsm.RemoveVIP(a)) }, nil
}

// ParseVIPAddr parses how a VIP to remove is named: its address, or a CIDR
// whose address it takes (as `vip ls` prints VIPs). DELETE /v1/vips/{addr}
// accepts the same forms, so the CLI can refuse what the server would.
func ParseVIPAddr(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr(), nil
	}
	return netip.Addr{}, fmt.Errorf("%q is not an IP address or CIDR", s)
}

// checkHostPort requires an address other nodes can dial: a host and a numeric
// port in 1-65535.
func checkHostPort(field, addr string) error {
	if addr == "" {
		return fmt.Errorf("%s is required (host:port)", field)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q is not host:port", field, addr)
	}
	if host == "" {
		return fmt.Errorf("%s %q has no host", field, addr)
	}
	ip, ipErr := netip.ParseAddr(host)
	switch {
	case strings.HasPrefix(addr, "[") && (ipErr != nil || !ip.Is6()):
		return fmt.Errorf("%s %q: brackets hold an IPv6 address, not %q", field, addr, host)
	case ipErr != nil && !isHostName(host):
		return fmt.Errorf("%s %q: host %q is neither an IP address nor a host name", field, addr, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%s %q: port must be a number from 1 to 65535", field, addr)
	}
	return nil
}

// isHostName reports whether h is a DNS name other nodes could resolve:
// dot-separated labels of letters, digits, '-' and '_', each 1 to 63
// characters, 253 in all. It keeps spaces and control characters, which no
// resolver accepts, out of the replicated membership.
func isHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
