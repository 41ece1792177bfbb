package cluster

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// clusterIDKey is where the stable store records the cluster a data dir
// belongs to. raft's own keys (CurrentTerm, LastVoteTerm, LastVoteCand) do
// not collide with it.
const clusterIDKey = "raftvip_cluster_id"

// ErrOtherCluster: the data dir belongs to another cluster than the one the
// node's certificates are of (or to a TLS cluster, for a plaintext node).
var ErrOtherCluster = errors.New("data dir belongs to another cluster")

// checkClusterID compares the cluster ID recorded in stable with want, the
// cluster ID of the node's CA ("" in plaintext mode). It writes nothing: it
// reports whether want is to be recorded (recordClusterID) once the node has
// started, so that a start that fails leaves the data dir as it was.
//
// Only a data dir with raft state belongs to a cluster: one without (a node
// that never completed a join) takes the new ID. A data dir with state but no
// ID was written by a plaintext node or an older raftvip; it takes the CA's
// ID, which is how a cluster moves to TLS. A TLS cluster's data dir is refused
// to a plaintext node: it could not talk to the cluster anyway, and starting
// it would hide the mistake.
func checkClusterID(stable raft.StableStore, want string, hasState bool, dataDir string) (record bool, err error) {
	b, err := stable.Get([]byte(clusterIDKey))
	// Both raft stores report a missing key as an error reading "not found"
	// (raft's own code tests for it the same way).
	if err != nil && err.Error() != "not found" {
		return false, fmt.Errorf("read the cluster ID in %s: %w", dataDir, err)
	}
	have := string(b)
	switch {
	case have == want:
		return false, nil
	case hasState && have != "":
		fix := fmt.Sprintf("but the certificates are of cluster %s: use that cluster's certificates, or another data dir", want)
		if want == "" {
			fix = "but this node runs without TLS: start it with that cluster's -tls-cert, -tls-key and -tls-ca"
		}
		return false, fmt.Errorf("%w: %s holds the state of TLS cluster %s, %s", ErrOtherCluster, dataDir, have, fix)
	}
	// want may be "": a plaintext node forgets the ID of an attempt that
	// never got state.
	return true, nil
}

// recordClusterID records want as the cluster of the data dir.
func recordClusterID(stable raft.StableStore, want string, dataDir string) error {
	if err := stable.Set([]byte(clusterIDKey), []byte(want)); err != nil {
		return fmt.Errorf("record the cluster ID in %s: %w", dataDir, err)
	}
	return nil
}
