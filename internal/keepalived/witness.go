package keepalived

import (
	"bytes"
	"fmt"
	"net"
)

// Pair is what the importer knows of a keepalived MASTER/BACKUP pair: this
// node's unicast source address (if the config names it) and its one peer.
type Pair struct {
	Self, Peer string
}

// pairPeers records a unicast_peer block with one peer: keepalived's pair.
// Raft needs a majority of three voters, so two raftvip hosts alone would
// lose the VIP at the first host failure; the note says so and Render
// prints the witness that makes the third voter.
func (t *translator) pairPeers(n *Node) {
	if len(n.Children) != 1 {
		return
	}
	if t.Pair == nil {
		t.Pair = &Pair{}
	}
	t.Pair.Peer = n.Children[0].Keyword
	t.note(n, "a pair (one unicast_peer): raftvip needs a third voter, or the first host failure leaves no majority "+
		"and no node holds the VIPs; run a witness (witness: true) on a third host that reaches both over TCP: "+
		"its config is at the end of this file")
}

// unicastSrc records this node's address in a pair and notes, as for every
// VRRP protocol setting, that raftvip has no use for it.
func (t *translator) unicastSrc(n *Node) {
	if s, ok := t.oneArg(n); ok {
		if t.Pair == nil {
			t.Pair = &Pair{}
		}
		t.Pair.Self = s
	}
	t.note(n, "a VRRP protocol setting; raftvip speaks Raft between its nodes (harmless)")
}

// writeWitness prints, as comments, the config of the witness a pair needs.
func writeWitness(b *bytes.Buffer, p *Pair) {
	if p == nil || p.Peer == "" {
		return
	}
	self := p.Self
	if self == "" {
		self = "THIS-HOST"
	}
	fmt.Fprintf(b, `#
# The witness this pair needs (docs/migrating-from-keepalived.md): on a third
# host that reaches %[1]s and %[2]s on TCP 7000 and 8080 (a monitoring host,
# an app server, a small VM in another rack), /etc/raftvip/witness.yaml, run
# by deploy/raftvip-witness.service (no capabilities, a dynamic user). Make
# its certificate with: raftvip tls cert -id witness -host WITNESS-IP
#   id: witness
#   witness: true
#   raft-addr: WITNESS-IP:7000
#   http-addr: WITNESS-IP:8080
#   data-dir: /var/lib/raftvip-witness
#   join: [%[3]s, %[4]s]
#   token-file: /etc/raftvip/token
#   tls-ca: /etc/raftvip/tls/ca.pem
#   tls-cert: /etc/raftvip/tls/witness.pem
#   tls-key: /etc/raftvip/tls/witness-key.pem
# A witness takes no vip, interface, checks or notify-master/backup/fault.
`, self, p.Peer, net.JoinHostPort(self, "8080"), net.JoinHostPort(p.Peer, "8080"))
}
