package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// The witness tests run two VIP hosts, n1 and n2, on the LAN with the client,
// and a witness, n3, on 198.51.100.0/24 behind a router: it reaches the
// others' Raft and API ports over routed TCP only, as a witness in another
// rack or site would.
const witness = 3

// quiet is how long the tests watch a cluster in which nothing must move:
// many election timeouts of the default profile (200 ms heartbeat).
const quiet = 3 * time.Second

// witnessCluster starts the pair and the witness, and a probe of the VIP
// once its holder answers.
func witnessCluster(t *testing.T) (e *env, holder int, p *probe.Probe) {
	t.Helper()
	e = newEnvWith(t, lab.Options{RoutedWitness: true})
	e.c.Witnesses = map[int]bool{witness: true}
	holder = e.startCluster()
	if holder == witness {
		t.Fatalf("the witness holds the VIP")
	}
	e.await("every member lists n3 as the witness and every member's health", settle, func() error { return e.roles() })
	return e, holder, e.probe(vip, holder)
}

// other is the VIP host that is not i.
func other(i int) int { return 3 - i }

// roles reports an error unless every running member lists n1 and n2 as
// voters and n3 as the witness.
func (e *env) roles() error {
	for i := 1; i <= 3; i++ {
		if p := e.c.Proc(i); p == nil || !p.Running() {
			continue
		}
		st, err := e.status(i)
		if err != nil {
			return err
		}
		for _, m := range st.Members {
			want := "voter"
			if m.ID == lab.NodeName(witness) {
				want = "witness"
			}
			if m.Role != want || m.Suffrage != "voter" {
				return fmt.Errorf("n%d lists %s as %s/%s, want voter/%s", i, m.ID, m.Suffrage, m.Role, want)
			}
			// A leader hands over only to a VIP host whose health it knows:
			// the faults start from the steady state, where each has reported.
			if !m.Health.Reported {
				return fmt.Errorf("n%d has no health report of %s yet", i, m.ID)
			}
		}
	}
	return nil
}

// witnessNeverHeld fails the test if any sample of r saw the VIP configured
// on the witness.
func (e *env) witnessNeverHeld(r probe.Report) {
	e.t.Helper()
	for _, s := range r.States {
		if slices.Contains(s.Holders, witness) {
			e.t.Fatalf("the VIP was configured on the witness %v into the probe", s.At)
		}
	}
}

// calm watches for quiet and then checks that nothing moved: the holder
// answered the client alone, without a gap, and nobody else held the VIP.
func (e *env) calm(p *probe.Probe, holder int, what string) {
	e.t.Helper()
	time.Sleep(quiet)
	if err := e.holds(holder, vip); err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	r := e.stopSteady(p, vip, holder)
	e.t.Logf("measured: %s: %s", what, r)
	if want := []string{lab.NodeName(holder)}; !slices.Equal(r.Answerers, want) {
		e.t.Errorf("%s: the client was answered by %v, want %v alone", what, r.Answerers, want)
	}
	if r.Outage != 0 {
		e.t.Errorf("%s: the client went %v without an answer, want no gap", what, r.Outage)
	}
	e.noDualHolder(r)
	e.witnessNeverHeld(r)
}

// TestWitnessPairHostLoss: the holder's host is lost; the other VIP host
// takes the VIP (the witness's vote makes the majority) and the client follows.
func TestWitnessPairHostLoss(t *testing.T) {
	e, old, p := witnessCluster(t)
	downAt := time.Now()
	if err := e.lab.HostDown(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	n := e.waitHolder(vip, old)
	if n != other(old) {
		t.Fatalf("n%d holds the VIP, want n%d", n, other(old))
	}
	heldAfter := since(downAt)
	r := e.stopSteady(p, vip, n)
	t.Logf("measured: pair+witness, host loss of n%d: n%d holds after %v; %s", old, n, heldAfter, r)
	e.noDualHolder(r)
	e.witnessNeverHeld(r)
}

// TestWitnessPairGracefulStop: SIGTERM on the holder hands the VIP to the
// other VIP host, not to the witness.
func TestWitnessPairGracefulStop(t *testing.T) {
	e, old, p := witnessCluster(t)
	e.signal(old, syscall.SIGTERM)
	if code := e.exited(e.c.Proc(old)); code != 0 {
		t.Fatalf("n%d exited %d after SIGTERM", old, code)
	}
	n := e.waitHolder(vip, old)
	if n != other(old) {
		t.Fatalf("n%d holds the VIP, want n%d", n, other(old))
	}
	r := e.stopSteady(p, vip, n)
	t.Logf("measured: pair+witness, SIGTERM of n%d: %s", old, r)
	e.noDualHolder(r)
	e.witnessNeverHeld(r)
	if b, err := os.ReadFile(e.lab.LogPath(witness)); err == nil && strings.Contains(string(b), "handing leadership over") {
		t.Errorf("the witness was handed leadership on the way; the stopping holder should name n%d", n)
	}
}

// TestWitnessPairPartition: the holder loses the other VIP host but still
// reaches the witness, so it keeps its majority: nothing moves.
func TestWitnessPairPartition(t *testing.T) {
	e, old, p := witnessCluster(t)
	if err := e.lab.Partition(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	e.calm(p, old, fmt.Sprintf("n%d cut off from n%d only", old, other(old)))
}

// TestWitnessPairHolderCutOff: the holder loses both the other VIP host and
// the witness, though the client still reaches it: it drops the VIP before
// the other takes it.
func TestWitnessPairHolderCutOff(t *testing.T) {
	e, old, p := witnessCluster(t)
	cutAt := time.Now()
	if err := e.lab.PartitionAll(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	n := e.waitHolder(vip, old)
	heldAfter := since(cutAt)
	e.await(fmt.Sprintf("cut-off n%d says it holds nothing", old), settle, func() error { return e.notHolder(old) })
	r := e.stopSteady(p, vip, n)
	t.Logf("measured: pair+witness, n%d cut off from both: n%d holds after %v; %s", old, n, heldAfter, r)
	e.noDualHolder(r)
	e.witnessNeverHeld(r)
}

// TestWitnessLost: the witness's host is lost; the pair keeps its majority
// and nothing moves.
func TestWitnessLost(t *testing.T) {
	e, holder, p := witnessCluster(t)
	if err := e.lab.HostDown(e.ctx, witness); err != nil {
		t.Fatal(err)
	}
	e.calm(p, holder, "witness host lost")
}

// TestWitnessElected: a transfer to the witness is refused; then the witness
// is made leader (the other VIP host stopped, the holder stopped with only
// the witness to hand to, the other restarted behind the witness's log). It
// never has the VIP configured, and hands leadership on to the VIP host.
func TestWitnessElected(t *testing.T) {
	e, old, p := witnessCluster(t)
	out, err := e.c.CLI(e.ctx, old, "transfer", lab.NodeName(witness))
	if err == nil || !strings.Contains(out, "witness") || !strings.Contains(out, lab.NodeName(witness)) {
		t.Fatalf("raftvip transfer n3: %v: %s; want a refusal naming the witness", err, out)
	}
	peer := other(old)
	e.signal(peer, syscall.SIGTERM)
	e.exited(e.c.Proc(peer))
	e.signal(old, syscall.SIGTERM)
	e.exited(e.c.Proc(old))
	e.restart(peer)
	e.await(fmt.Sprintf("n%d holds after the witness led", peer), 2*settle, func() error { return e.holds(peer, vip) })
	r := e.stopSteady(p, vip, peer)
	t.Logf("measured: pair+witness, witness elected: %s", r)
	e.noDualHolder(r)
	e.witnessNeverHeld(r)
	b, err := os.ReadFile(e.lab.LogPath(witness))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "handing leadership over") {
		t.Errorf("the witness never handed leadership over: it was not elected, so the test proved nothing")
	}
	if strings.Contains(string(b), "claimed the VIPs") {
		t.Errorf("the witness claimed the VIPs")
	}
}

// TestWitnessRefusesVIPFlags: a witness started with -vip or -interface
// exits with an error naming the flag.
func TestWitnessRefusesVIPFlags(t *testing.T) {
	e := newEnvWith(t, lab.Options{RoutedWitness: true})
	e.c.Witnesses = map[int]bool{witness: true}
	e.refused(witness, "-vip is refused with -witness", e.c.Args(witness, "-bootstrap", "-vip", vipPrefix.String())...)
	e.refused(witness, "-interface is refused with -witness", e.c.Args(witness, "-bootstrap", "-interface", lab.Link)...)
}
