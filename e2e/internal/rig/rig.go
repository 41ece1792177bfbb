// Package rig runs real raftvip agents in a lab and talks to them the way an
// operator would: over their HTTP API, from the client namespace. It imports
// nothing of raftvip but the binary it runs (docs/design.md, "Layout": e2e uses
// the binary only).
package rig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// Ports every agent uses on its node address.
const (
	RaftPort = 7000
	HTTPPort = 8080
)

// Token is the cluster token written to every node's token file.
const Token = "e2e-cluster-token"

// Build compiles cmd/raftvip into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "raftvip")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/raftvip")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/raftvip: %w\n%s", err, out)
	}
	return bin, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the raftvip module: run from the repository")
	}
	return filepath.Dir(mod), nil
}

// Cluster is a set of agents in one lab.
type Cluster struct {
	Lab       *lab.Lab
	Bin       string
	TokenFile string
	// TLSDir holds the cluster CA (ca.pem, ca-key.pem) and a certificate per
	// node (n1.pem, n1-key.pem ...) and for the operator (admin.pem), made
	// with `raftvip tls`; "" for a plaintext cluster.
	TLSDir string
	// Common flags passed to every agent (e.g. "-timing", "fast").
	Common []string
	// PerNode, if set, gives node i's own flags (e.g. its -config), after
	// Common.
	PerNode func(i int) []string
	// Env, if set, gives node i's agent extra environment ("K=V").
	Env func(i int) []string
	// Witnesses are the nodes that run with -witness: no -interface, and
	// never a -vip (Bootstrap gives those to node 1 only).
	Witnesses map[int]bool
	mu        sync.Mutex // guards procs and extra: a soak restarts nodes at once
	procs     map[int]*lab.Proc
	extra     map[int][]string // the flags each node was last started with
	http      *http.Client
}

// Admin is the ID of the operator's certificate the rig and CLI calls use.
const Admin = "admin"

// New prepares a cluster in l with the binary bin, secured as an operator
// would set it up: `raftvip tls init`, then `raftvip tls cert` for every node
// and for the operator. It starts nothing.
func New(l *lab.Lab, bin string, common ...string) (*Cluster, error) {
	c, err := newCluster(l, bin, common)
	if err != nil {
		return nil, err
	}
	c.TLSDir = filepath.Join(l.Dir(), "tls")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := TLS(ctx, bin, "init", "-dir", c.TLSDir); err != nil {
		return nil, err
	}
	if _, err := TLS(ctx, bin, "cert", "-dir", c.TLSDir, "-id", Admin); err != nil {
		return nil, err
	}
	for i := 1; i <= l.Nodes(); i++ {
		if err := c.nodeCert(ctx, i); err != nil {
			return nil, err
		}
	}
	conf, err := ClientTLS(c.TLSDir, Admin)
	if err != nil {
		return nil, err
	}
	c.http.Transport.(*http.Transport).TLSClientConfig = conf
	return c, nil
}

// NewPlaintext prepares a cluster without TLS (-insecure-plaintext).
func NewPlaintext(l *lab.Lab, bin string, common ...string) (*Cluster, error) {
	return newCluster(l, bin, common)
}

func newCluster(l *lab.Lab, bin string, common []string) (*Cluster, error) {
	tf := filepath.Join(l.Dir(), "token")
	if err := os.WriteFile(tf, []byte(Token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	c := &Cluster{Lab: l, Bin: bin, TokenFile: tf, Common: common, procs: map[int]*lab.Proc{}, extra: map[int][]string{}}
	c.http = &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			// Node addresses exist only inside the lab: dial from the client
			// namespace, as an operator's workstation on that LAN would.
			DialContext: DialIn(l.ClientNS()),
		},
	}
	return c, nil
}

// DialIn is a DialContext that dials from namespace ns; the socket stays in
// ns. It is the one way the e2e tests connect from a lab namespace.
func DialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := lab.RunInNS(ns, func() error {
			var d net.Dialer
			var err error
			conn, err = d.DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
}

// TLS runs `raftvip tls args...` (it only writes files) and returns its output.
func TLS(ctx context.Context, bin string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, append([]string{"tls"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("raftvip tls %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// ClientTLS is a TLS client config with certificate id of dir, trusting dir's
// CA. It verifies the node's host name too: the rig's node certificates carry
// the node's address (tls cert -host), as an operator's would for curl.
func ClientTLS(dir, id string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, id+".pem"), filepath.Join(dir, id+"-key.pem"))
	if err != nil {
		return nil, fmt.Errorf("certificate %s in %s: %w", id, dir, err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s/ca.pem: no certificate", dir)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}, RootCAs: pool}, nil
}

// nodeCert makes node i's certificate unless it exists.
func (c *Cluster) nodeCert(ctx context.Context, i int) error {
	if _, err := os.Stat(filepath.Join(c.TLSDir, lab.NodeName(i)+".pem")); err == nil {
		return nil
	}
	_, err := TLS(ctx, c.Bin, "cert", "-dir", c.TLSDir, "-id", lab.NodeName(i), "-host", c.Lab.NodeIP(i).String())
	return err
}

// TLSArgs are the flags that give the agent or CLI the certificate id of the
// cluster, or -insecure-plaintext for a plaintext cluster.
func (c *Cluster) TLSArgs(id string) []string {
	if c.TLSDir == "" {
		return []string{"-insecure-plaintext"}
	}
	return CertArgs(c.TLSDir, id)
}

// CertArgs are -tls-cert, -tls-key and -tls-ca for certificate id in dir.
func CertArgs(dir, id string) []string {
	return []string{"-tls-cert", filepath.Join(dir, id+".pem"), "-tls-key", filepath.Join(dir, id+"-key.pem"),
		"-tls-ca", filepath.Join(dir, "ca.pem")}
}

// APIAddr is node i's HTTP address.
func (c *Cluster) APIAddr(i int) string {
	return netip.AddrPortFrom(c.Lab.NodeIP(i), HTTPPort).String()
}

// DataDir is node i's data directory.
func (c *Cluster) DataDir(i int) string {
	return filepath.Join(c.Lab.Dir(), "data-"+lab.NodeName(i))
}

// Args is the agent command line for node i, with extra appended. A node
// added to the lab after New gets its certificate here; if that fails, the
// agent's own start-up error names the missing file.
func (c *Cluster) Args(i int, extra ...string) []string {
	if c.TLSDir != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = c.nodeCert(ctx, i)
		cancel()
	}
	ip := c.Lab.NodeIP(i)
	args := []string{c.Bin, "agent",
		"-id", lab.NodeName(i),
		"-raft-addr", netip.AddrPortFrom(ip, RaftPort).String(),
		"-http-addr", c.APIAddr(i),
		"-data-dir", c.DataDir(i),
		"-token-file", c.TokenFile,
		"-join-timeout", "30s",
	}
	if c.Witnesses[i] {
		args = append(args, "-witness")
	} else {
		args = append(args, "-interface", lab.Link)
	}
	args = append(args, c.TLSArgs(lab.NodeName(i))...)
	args = append(args, c.Common...)
	if c.PerNode != nil {
		args = append(args, c.PerNode(i)...)
	}
	return append(args, extra...)
}

// Start starts node i's agent with extra flags (e.g. "-bootstrap", "-vip", ...).
func (c *Cluster) Start(ctx context.Context, i int, extra ...string) (*lab.Proc, error) {
	var env []string
	if c.Env != nil {
		env = c.Env(i)
	}
	p, err := c.Lab.Start(ctx, i, c.Args(i, extra...), env)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.procs[i], c.extra[i] = p, extra
	c.mu.Unlock()
	return p, nil
}

// Restart starts node i's agent again with the flags it was last started
// with, as a service manager would.
func (c *Cluster) Restart(ctx context.Context, i int) (*lab.Proc, error) {
	c.mu.Lock()
	extra := c.extra[i]
	c.mu.Unlock()
	return c.Start(ctx, i, extra...)
}

// startWait bounds each wait of Bootstrap; apiWait bounds one API call in it,
// so a node that does not answer costs a poll a short wait.
const (
	startWait = 30 * time.Second
	apiWait   = time.Second
)

// Bootstrap starts a cluster of every node of the lab: node 1 with
// -bootstrap and vips, once its /v1/leader answers 200 the others with -join.
// It returns the leader once every node reports the same leader and all
// nodes as voters. Whether the VIPs are in the leader's kernel yet is left
// to the caller, which judges that from the lab.
func (c *Cluster) Bootstrap(ctx context.Context, vips ...netip.Prefix) (int, error) {
	args := []string{"-bootstrap"}
	for _, v := range vips {
		args = append(args, "-vip", v.String())
	}
	if _, err := c.Start(ctx, 1, args...); err != nil {
		return 0, err
	}
	err := probe.Until(ctx, "n1 answers 200 on /v1/leader", startWait, func() error {
		ctx, cancel := context.WithTimeout(ctx, apiWait)
		defer cancel()
		code, _, err := c.LeaderOf(ctx, 1)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("HTTP %d", code)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	nodes := c.Lab.Nodes()
	for i := 2; i <= nodes; i++ {
		if _, err := c.Start(ctx, i, "-join", c.JoinAddrs(i)); err != nil {
			return 0, err
		}
	}
	var leader string
	err = probe.Until(ctx, fmt.Sprintf("%d voters following one leader", nodes), startWait, func() error {
		leader = ""
		for i := 1; i <= nodes; i++ {
			ctx, cancel := context.WithTimeout(ctx, apiWait)
			st, err := c.StatusOf(ctx, i)
			cancel()
			if err != nil {
				return err
			}
			if v := st.Voters(); len(v) != nodes || st.LeaderID == "" || (leader != "" && st.LeaderID != leader) {
				return fmt.Errorf("n%d: leader %q, voters %v", i, st.LeaderID, v)
			}
			leader = st.LeaderID
		}
		return nil
	})
	return lab.NodeIndex(leader), err
}

// Proc is node i's running agent, or nil.
func (c *Cluster) Proc(i int) *lab.Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[i]
}

// JoinAddrs is the -join value naming every node but i.
func (c *Cluster) JoinAddrs(except int) string {
	var out []string
	for n := 1; n <= c.Lab.Nodes(); n++ {
		if n != except {
			out = append(out, c.APIAddr(n))
		}
	}
	return strings.Join(out, ",")
}

// Leader is the JSON body of GET /v1/leader.
type Leader struct {
	Node          string `json:"node"`
	Role          string `json:"role"`
	Holder        bool   `json:"holder"`
	LeaderID      string `json:"leader_id"`
	LeaderAPIAddr string `json:"leader_api_addr"`
	Term          uint64 `json:"term"`
}

// Member is one entry of GET /v1/members.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
	Suffrage string `json:"suffrage"`
	Role     string `json:"role"`
	Leader   bool   `json:"leader"`
	Health   struct {
		Reported bool   `json:"reported"`
		Healthy  bool   `json:"healthy"`
		Fault    string `json:"fault"`
		Priority int    `json:"priority"`
	} `json:"health"`
}

// Status is the part of GET /v1/status the tests read.
type Status struct {
	ID       string   `json:"id"`
	State    string   `json:"state"`
	Term     uint64   `json:"term"`
	LeaderID string   `json:"leader_id"`
	Holder   bool     `json:"holder"`
	Members  []Member `json:"members"`
	VIPs     []struct {
		Prefix string `json:"prefix"`
	} `json:"vips"`
	Owner struct {
		Node     string `json:"node"`
		Term     uint64 `json:"term"`
		Previous string `json:"previous"`
		Takeover int64  `json:"takeover_ms"`
	} `json:"owner"`
	Degraded string `json:"degraded"`
	Witness  bool   `json:"witness"`
}

// Member returns the member id, and false if there is none.
func (s Status) Member(id string) (Member, bool) {
	for _, m := range s.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// Voters lists the IDs of the voting members, sorted.
func (s Status) Voters() []string {
	var ids []string
	for _, m := range s.Members {
		if strings.EqualFold(m.Suffrage, "voter") {
			ids = append(ids, m.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// LeaderOf asks node i's /v1/leader; it returns the HTTP code and the body.
func (c *Cluster) LeaderOf(ctx context.Context, i int) (int, Leader, error) {
	var l Leader
	code, err := c.get(ctx, i, "/v1/leader", &l)
	return code, l, err
}

// StatusOf asks node i's /v1/status.
func (c *Cluster) StatusOf(ctx context.Context, i int) (Status, error) {
	var s Status
	code, err := c.get(ctx, i, "/v1/status", &s)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET /v1/status on n%d: HTTP %d", i, code)
	}
	return s, err
}

func (c *Cluster) get(ctx context.Context, i int, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.scheme()+"://"+c.APIAddr(i)+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s on n%d: %w: %s", path, i, err, b)
	}
	return resp.StatusCode, nil
}

// CLI runs the raftvip client in the client namespace against node i's API,
// with the token file and the operator's certificate, and returns its
// combined output.
func (c *Cluster) CLI(ctx context.Context, i int, args ...string) (string, error) {
	argv := append(args, "-addr", c.APIAddr(i), "-token-file", c.TokenFile)
	argv = append(argv, c.TLSArgs(Admin)...)
	out, err := c.Lab.Exec(ctx, c.Lab.ClientNS(), c.Bin, argv...)
	return out, err
}
