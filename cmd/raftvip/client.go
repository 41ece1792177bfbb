package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/raftvip/raftvip/api"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/agent"
)

// clientOpts are the flags every client subcommand shares.
type clientOpts struct {
	addr      string
	tokenFile string
	json      bool
	timeout   time.Duration
	tls       agent.TLSFiles
	envErr    error // a bad RAFTVIP_INSECURE_PLAINTEXT
}

func clientFlags(name string, o *clientOpts, getenv func(string) string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := getenv(envPrefix + "ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	fs.StringVar(&o.addr, "addr", addr, "HTTP address of any cluster node (env RAFTVIP_ADDR)")
	fs.StringVar(&o.tokenFile, "token-file", getenv(envPrefix+"TOKEN_FILE"), "cluster token file, needed for changes (env RAFTVIP_TOKEN_FILE)")
	o.tls = agent.TLSFiles{Cert: getenv(envPrefix + "TLS_CERT"), Key: getenv(envPrefix + "TLS_KEY"), CA: getenv(envPrefix + "TLS_CA")}
	if v := getenv(envPrefix + "INSECURE_PLAINTEXT"); v != "" {
		var err error
		if o.tls.Insecure, err = strconv.ParseBool(v); err != nil {
			o.envErr = fmt.Errorf("%sINSECURE_PLAINTEXT=%q: want true or false", envPrefix, v)
		}
	}
	tlsFlagVars(fs, &o.tls.Cert, &o.tls.Key, &o.tls.CA, &o.tls.Insecure)
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up after this long")
	return fs
}

// parseInterleaved parses flags that may follow positional arguments
// ("vip add 192.0.2.101/24 -addr ..."), which the flag package alone does not.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError(err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func runClient(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var o clientOpts
	sub := cmd
	if cmd == "vip" {
		if len(args) == 0 {
			return fmt.Errorf("%w: vip needs add, rm or ls", errUsage)
		}
		sub, args = "vip "+args[0], args[1:]
	}
	fs := clientFlags(sub, &o, getenv, stderr)
	var join api.JoinRequest
	if cmd == "join" {
		fs.StringVar(&join.ID, "id", "", "ID of the node to add")
		fs.StringVar(&join.RaftAddr, "raft-addr", "", "its Raft address (host:port)")
		fs.StringVar(&join.APIAddr, "api-addr", "", "its HTTP address (host:port)")
	}
	var vip vipAddOpts
	if sub == "vip add" {
		fs.StringVar(&vip.Interface, "interface", "", "pin the VIP to this interface name on every node")
		fs.StringVar(&vip.Label, "label", "", "IPv4 label suffix (shown as <ifname>:<label>)")
		fs.BoolVar(&vip.Replace, "replace", false, "change the prefix length or interface of the VIP with this address")
		fs.BoolVar(&vip.Force, "force", false, "add the VIP even if members lack its -interface (they cannot hold it) or another host answers for its address (it stays unbound)")
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := errors.Join(o.envErr, o.tls.Validate()); err != nil {
		return err
	}
	// Warnings (a key or token file others can read) go to stderr.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	token, err := clientToken(o.tokenFile, log)
	if err != nil {
		return err
	}
	ident, err := o.tls.Load(log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var conf *tls.Config
	if ident != nil {
		conf = ident.TLSConfig()
	}
	c := api.NewClient(apiAddr(o.addr), token, conf)
	out := printer{w: stdout, json: o.json}
	err = runSub(ctx, c, sub, pos, join, vip, token != "", out)
	return explainTransport(err, o.addr)
}

// runSub runs one client subcommand against c. Writes need the token
// (hasToken); the check comes after the arguments', so a bad argument is
// reported first.
func runSub(ctx context.Context, c *api.Client, sub string, pos []string, join api.JoinRequest, vip vipAddOpts, hasToken bool, out printer) error {
	if sub != "status" && sub != "members" && sub != "vip ls" && !hasToken {
		if err := checkWriteArgs(sub, pos); err != nil {
			return err
		}
		return errNoToken
	}

	switch sub {
	case "status":
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		return out.status(st)
	case "members":
		ms, err := c.Members(ctx)
		if err != nil {
			return err
		}
		return out.members(ms)
	case "join":
		if err := c.Join(ctx, join); err != nil {
			return err
		}
		return out.done(fmt.Sprintf("%s joined", join.ID))
	case "leave":
		if len(pos) != 1 {
			return fmt.Errorf("%w: leave needs exactly one node ID", errUsage)
		}
		if err := c.Leave(ctx, pos[0]); err != nil {
			return err
		}
		return out.done(fmt.Sprintf("%s left", pos[0]))
	case "transfer":
		if len(pos) > 1 {
			return fmt.Errorf("%w: transfer takes at most one node ID", errUsage)
		}
		var id string // "": any up-to-date follower
		if len(pos) == 1 {
			id = pos[0]
		}
		a, err := c.Transfer(ctx, id)
		if err != nil {
			return err
		}
		return out.done(cmp.Or(a.Message, "leadership transferred"))
	case "vip add", "vip rm":
		if len(pos) != 1 {
			return fmt.Errorf("%w: %s needs exactly one address", errUsage, sub)
		}
		if sub == "vip add" {
			return vipAdd(ctx, c, pos[0], vip, out)
		}
		return vipRemove(ctx, c, pos[0], out)
	case "vip ls":
		l, err := c.VIPList(ctx)
		if err != nil {
			return err
		}
		return out.vips(l)
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, sub)
}

// vipAddOpts are the flags of `vip add`.
type vipAddOpts struct {
	fsm.VIP
	cluster.AddVIPOptions
}

// vipAdd parses the CIDR (the client sends a typed prefix); the server checks
// the whole VIP, interface and label included, so that is not done here too.
func vipAdd(ctx context.Context, c *api.Client, arg string, o vipAddOpts, out printer) error {
	parsed, err := fsm.ParseVIP(arg)
	if err != nil {
		return err
	}
	v := o.VIP
	v.Prefix = parsed.Prefix
	a, err := c.AddVIPWith(ctx, v, o.AddVIPOptions)
	if err != nil {
		return err
	}
	// A forced add's answer names the members that cannot bind the VIP.
	return out.done(cmp.Or(a.Message, fmt.Sprintf("added %s", v.Prefix)))
}

func vipRemove(ctx context.Context, c *api.Client, arg string, out printer) error {
	a, err := api.ParseVIPAddr(arg)
	if err != nil {
		return err
	}
	if err := c.RemoveVIP(ctx, a); err != nil {
		return err
	}
	return out.done(fmt.Sprintf("removed %s", a))
}

// errNoToken: a write without -token-file.
var errNoToken = fmt.Errorf("changes need the cluster token: pass -token-file <file> or set %sTOKEN_FILE", envPrefix)

// checkWriteArgs refuses bad arguments of a write before anything else is
// said about it, as runSub's cases would.
func checkWriteArgs(sub string, pos []string) error {
	switch sub {
	case "vip add":
		if len(pos) == 1 {
			_, err := fsm.ParseVIP(pos[0])
			return err
		}
	case "vip rm":
		if len(pos) == 1 {
			_, err := api.ParseVIPAddr(pos[0])
			return err
		}
	}
	return nil
}

// defaultAPIPort is the port of the agent's default -http-addr.
const defaultAPIPort = "8080"

// apiAddr adds the API's default port to an -addr given as a bare host
// ("192.0.2.11", "2001:db8::11", "[2001:db8::11]"). URLs pass as they are.
func apiAddr(addr string) string {
	if strings.Contains(addr, "://") {
		return addr
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), defaultAPIPort)
}

// explainTransport says what an answer that is not HTTP at all means: -addr
// names a port that is not the API's, most likely the Raft port (raft's
// transport hangs up on an HTTP request, with or without TLS).
func explainTransport(err error, addr string) error {
	if err == nil || !notHTTP(err) {
		return err
	}
	return fmt.Errorf("%s did not answer HTTP: is that the Raft port? -addr wants a node's API address "+
		"(-http-addr, default port %s): %w", addr, defaultAPIPort, err)
}

// notHTTPSigns are the texts of net/http's own errors for a peer that does
// not speak HTTP, made with errors.New or fmt.Errorf without a type or
// sentinel to match: a reply that is not an HTTP status line; an HTTP reply
// to a TLS hello; an HTTP/2 connection (ALPN "h2", as a Raft port with an
// open member guard negotiates) that closed before its first frame.
var notHTTPSigns = []string{"malformed HTTP", "server gave HTTP response to HTTPS client",
	"http2: client conn could not be established"}

// notHTTP reports whether err says that the peer hung up on, or answered
// with something other than, an HTTP request, as opposed to not answering at
// all (refused, timed out) or answering an API error.
func notHTTP(err error) bool {
	var apiErr *api.Error
	var tlsErr tls.RecordHeaderError // a reply that is no TLS record
	switch {
	case errors.As(err, &apiErr), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &tlsErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	msg := err.Error()
	return slices.ContainsFunc(notHTTPSigns, func(sign string) bool { return strings.Contains(msg, sign) })
}

func clientToken(path string, log *slog.Logger) (string, error) {
	if path == "" {
		return "", nil
	}
	tok, err := agent.ReadToken(path, log)
	return string(tok), err
}

// printer writes human tables by default and JSON with -json.
type printer struct {
	w    io.Writer
	json bool
}

func (p printer) encode(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (p printer) done(msg string) error {
	if p.json {
		return p.encode(map[string]any{"ok": true, "message": msg})
	}
	_, err := fmt.Fprintln(p.w, msg)
	return err
}

func (p printer) status(st cluster.Status) error {
	if p.json {
		return p.encode(st)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	holds := "holds nothing"
	if st.Holder {
		holds = "holds the VIPs"
	}
	if st.Witness {
		holds = "witness: never holds the VIPs"
	}
	fmt.Fprintf(tw, "node\t%s (%s, term %d), %s\n", st.ID, st.State, st.Term, holds)
	leader := "NONE: no quorum or an election under way; no node holds the VIPs"
	if st.Removed {
		leader = "NONE: this node was removed from the cluster (it is not in the Raft configuration); " +
			"stop it, or join it again"
	} else if st.LeaderID != "" {
		leader = fmt.Sprintf("%s (api %s)", st.LeaderID, orDash(st.LeaderAPIAddr))
	}
	fmt.Fprintf(tw, "leader\t%s\n", leader)
	fmt.Fprintf(tw, "owner\t%s\n", ownerLine(st.Owner, time.Now()))
	fmt.Fprintf(tw, "vips\t%s\n", orDash(vipList(st.VIPs)))
	if st.Removed {
		fmt.Fprintf(tw, "REMOVED\tthis node is no longer a member of the cluster\n")
	}
	if st.Degraded != "" {
		fmt.Fprintf(tw, "DEGRADED\t%s\n", st.Degraded)
	}
	for _, c := range st.Conflicts {
		fmt.Fprintf(tw, "CONFLICT\t%s\n", c.Text)
	}
	fmt.Fprintf(tw, "index\tapplied %d, commit %d, last %d\n", st.AppliedIndex, st.CommitIndex, st.LastIndex)
	if !st.LastContact.IsZero() {
		fmt.Fprintf(tw, "last contact\t%s ago\n", time.Since(st.LastContact).Round(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(p.w)
	return p.members(st.Members)
}

func (p printer) members(ms []cluster.Member) error {
	if p.json {
		return p.encode(map[string]any{"members": ms})
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRAFT\tAPI\tSUFFRAGE\tROLE\tLEADER\tPRIORITY\tREACHABLE\tLINKS\tHEALTH")
	now := time.Now()
	for _, m := range ms {
		l := ""
		if m.Leader {
			l = "*"
		}
		prio := "-"
		if m.Health.Reported {
			prio = strconv.Itoa(m.Health.Priority)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.RaftAddr, orDash(m.APIAddr), m.Suffrage,
			orDash(m.Role), l, prio, reachCell(m, now), linksCell(m.Links), healthCell(m))
	}
	return tw.Flush()
}

// reachCell is the leader's view of whether its heartbeats reach m; other
// nodes do not know.
func reachCell(m cluster.Member, now time.Time) string {
	switch {
	case m.Reachable == nil:
		return "unknown"
	case *m.Reachable:
		return "yes"
	case m.LastContact.IsZero():
		return "NO"
	}
	return fmt.Sprintf("NO (last contact %s ago)", now.Sub(m.LastContact).Round(time.Second))
}

// maxLinksShown bounds the LINKS cell: a host with one veth per container
// reports dozens of links, which -json lists in full.
const maxLinksShown = 8

// linksCell lists the links a member last reported, "-" when it reported
// none (a witness, a release that does not report links).
func linksCell(links []string) string {
	if len(links) == 0 {
		return "-"
	}
	if len(links) > maxLinksShown {
		return fmt.Sprintf("%s,+%d more", strings.Join(links[:maxLinksShown], ","), len(links)-maxLinksShown)
	}
	return strings.Join(links, ",")
}

// healthCell is m's last health report, unless the leader cannot reach m:
// then the report is old and says nothing of m now.
func healthCell(m cluster.Member) string {
	h := m.Health
	switch {
	case m.Reachable != nil && !*m.Reachable:
		return "unreachable"
	case !h.Reported:
		return "-"
	case !h.Healthy:
		return "FAILING: " + h.Fault
	}
	return "healthy"
}

// ownerLine says who holds the VIPs and, when the claim carried it, the last
// failover: when, from whom, and how long the cluster went without a holder.
func ownerLine(o fsm.Owner, now time.Time) string {
	if o.Node == "" {
		return "- (never claimed)"
	}
	s := fmt.Sprintf("%s (claimed in term %d)", o.Node, o.Term)
	if o.Since > 0 {
		at := time.UnixMilli(o.Since)
		s += fmt.Sprintf(", since %s (%s ago)", at.Format(time.RFC3339), now.Sub(at).Round(time.Second))
	}
	if o.Previous != "" {
		s += ", took over from " + o.Previous
		if o.Takeover > 0 {
			s += fmt.Sprintf(" after %d ms without a holder", o.Takeover)
		}
	}
	return s
}

func (p printer) vips(l api.VIPList) error {
	if p.json {
		if l.VIPs == nil {
			l.VIPs = []fsm.VIP{}
		}
		return p.encode(l)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VIP\tINTERFACE\tLABEL")
	for _, v := range l.VIPs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Prefix, orDash(v.Interface), orDash(v.Label))
	}
	return tw.Flush()
}

func vipList(vs []fsm.VIP) string { return strings.Join(strs(vs), ", ") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
