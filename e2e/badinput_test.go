package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// TestBadInput: the real daemon and client refuse bad input with a one-line
// error and change nothing: a join with the wrong token, VIPs that are not
// host addresses, and an unknown -interface. (A damaged raft.db is
// TestDamagedDataDir's.)
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	h := e.startCluster()

	t.Log("a join with the wrong token")
	n4, err := e.lab.AddNode(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(e.lab.Dir(), "wrong-token")
	if err := os.WriteFile(wrong, []byte("not-the-cluster-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.refused(n4, "token", e.c.Args(n4, "-join", e.c.JoinAddrs(n4), "-token-file", wrong)...)
	e.await("membership unchanged", settle, func() error {
		st, err := e.status(h)
		if err != nil {
			return err
		}
		if ids := st.Voters(); len(st.Members) != 3 || !slices.Equal(ids, []string{"n1", "n2", "n3"}) {
			return fmt.Errorf("members %v, want n1-n3 as voters", st.Members)
		}
		return nil
	})

	for _, bad := range []string{"192.0.2.300/24", "192.0.2.0/24"} {
		out, err := e.c.CLI(e.ctx, 2, "vip", "add", bad)
		if err == nil {
			t.Errorf("raftvip vip add %s succeeded: %s", bad, out)
		}
		msg := strings.TrimSpace(out)
		if strings.Contains(msg, "\n") || !strings.Contains(msg, strings.Split(bad, "/")[0]) {
			t.Errorf("raftvip vip add %s: want one line naming it, got:\n%s", bad, out)
		}
		t.Logf("refused: %s", msg)
	}
	for i := 1; i <= 3; i++ {
		if err := e.hasVIPs(i, vipPrefix.String()); err != nil {
			t.Error(err)
		}
	}
	if out := e.cli(2, "vip", "ls"); strings.Count(out, "192.0.2.") != 1 {
		t.Errorf("vip ls after the refused adds:\n%s", out)
	}

	t.Log("an unknown -interface")
	e.refused(n4, "nosuch0", e.c.Args(n4, "-interface", "nosuch0")...)

}

// refused starts argv on node i, and fails the test unless it exits non-zero
// with a last log line that is raftvip's one-line error mentioning want.
func (e *env) refused(i int, want string, argv ...string) {
	e.t.Helper()
	p, err := e.lab.Start(e.ctx, i, argv, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if code := e.exited(p); code == 0 {
		e.t.Errorf("%s exited 0, want an error", lab.NodeName(i))
	}
	line := e.lastLine(i)
	if !strings.HasPrefix(line, "raftvip agent: ") || !strings.Contains(line, want) {
		e.t.Errorf("%s's last line: %q; want raftvip's error mentioning %q", lab.NodeName(i), line, want)
	}
	e.t.Logf("%s refused: %s", lab.NodeName(i), line)
}
