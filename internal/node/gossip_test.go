package node

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/hashicorp/memberlist"
)

// A member the node registry registers is met through gossip by every
// node at once, not left to memberlist's push-pull exchange (every 15 s):
// members that joined together through member 1 missed each other that
// way, and one 7-node start in ten waited 15 to 25 s. The registered
// member here is a bare memberlist that joins nobody, so only the nodes
// can bring it in.
func TestRegisteredMemberIsMetThroughGossip(t *testing.T) {
	a := DefaultConfig()
	a.ID, a.Bootstrap = "a", true
	apiA := startNodeWith(t, a)
	for _, id := range []string{"b", "c"} {
		cfg := DefaultConfig()
		cfg.ID, cfg.Join = id, apiA
		startNodeWith(t, cfg)
	}
	mc := memberlist.DefaultLocalConfig()
	mc.Name, mc.BindAddr, mc.BindPort, mc.LogOutput = "m4", "127.0.0.1", 0, io.Discard
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Shutdown()
	gossip := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ml.LocalNode().Port)))
	// Its Raft address listens nowhere: three of four voters still commit.
	body := fmt.Sprintf(`{"id":"m4","api":"http://127.0.0.1:9","raft":"127.0.0.1:9","gossip":%q}`, gossip)
	if code, _, resp := do(t, "POST", apiA+"/api/v1/cluster/join", body); code != 200 {
		t.Fatalf("join = %d %s", code, resp)
	}
	waitFor(t, func() bool { return ml.NumMembers() == 4 })
}
