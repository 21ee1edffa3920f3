package database

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Another process's writes through the published address wait for the
// gate of the process running the store; its reads do not, and what it
// writes arrives whole.
func TestTheRelayGatesOtherProcessesWrites(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "db")
	var mu sync.Mutex
	var relayed []time.Duration // the waits of other processes' writes
	server, err := Open(ctx, Options{Dir: dir, Database: "tk", OnGatedWrite: func(collection string, waited, _ time.Duration) {
		if collection == RelayedWrites {
			mu.Lock()
			relayed = append(relayed, waited)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close(ctx)
	if server.Embedded.URI() == server.Embedded.direct {
		t.Fatal("the published address is FerretDB's own, not the relay")
	}
	if b, err := os.ReadFile(filepath.Join(dir, UngatedURIFile)); err != nil || strings.TrimSpace(string(b)) != server.Embedded.direct {
		t.Fatalf("%s = %q (%v), want FerretDB's own address", UngatedURIFile, b, err)
	}
	other, err := Open(ctx, Options{Dir: dir, Database: "tk", Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Database.Collection("c").InsertOne(ctx, bson.M{"_id": "a", "v": 1}); err != nil {
		t.Fatal(err)
	}

	release := server.gate.Hold(ctx) // this process is writing
	wrote := make(chan error, 1)
	go func() {
		_, err := other.Database.Collection("c").UpdateByID(ctx, "a", bson.M{"$set": bson.M{"v": 2}})
		wrote <- err
	}()
	select {
	case err := <-wrote:
		release()
		t.Fatalf("another process's write went past the held gate (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	// Reads pass meanwhile.
	var doc struct{ V int }
	if err := other.Database.Collection("c").FindOne(ctx, bson.M{"_id": "a"}).Decode(&doc); err != nil || doc.V != 1 {
		release()
		t.Fatalf("a read while the gate is held: %+v %v", doc, err)
	}
	release()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write did not go on after the gate was released")
	}
	if err := server.Database.Collection("c").FindOne(ctx, bson.M{"_id": "a"}).Decode(&doc); err != nil || doc.V != 2 {
		t.Fatalf("after the write: %+v %v", doc, err)
	}
	// Both writes were timed, the second with its wait behind the gate.
	mu.Lock()
	if len(relayed) < 2 || relayed[len(relayed)-1] < 300*time.Millisecond {
		t.Errorf("relayed writes' waits %v, want the insert's and the update's (≥ 300 ms)", relayed)
	}
	mu.Unlock()
	// The gate is free again: its holder released it when the answer came.
	done := make(chan struct{})
	go func() { server.gate.Hold(ctx)(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay kept the gate after the answer")
	}
}

func TestCommandName(t *testing.T) {
	body, _ := bson.Marshal(bson.D{{Key: "update", Value: "c"}, {Key: "$db", Value: "tk"}})
	seq := append([]byte{1, 0, 0, 0, 0}, "updates\x00"...)
	binary.LittleEndian.PutUint32(seq[1:5], uint32(len(seq)-1))
	msg := func(sections ...[]byte) []byte {
		m := make([]byte, 20)
		binary.LittleEndian.PutUint32(m[12:16], opMsg)
		for _, s := range sections {
			m = append(m, s...)
		}
		binary.LittleEndian.PutUint32(m[:4], uint32(len(m)))
		return m
	}
	for name, c := range map[string]struct {
		msg  []byte
		want string
	}{
		"body":                  {msg(append([]byte{0}, body...)), "update"},
		"sequence, then body":   {msg(seq, append([]byte{0}, body...)), "update"},
		"cut short":             {msg(append([]byte{0}, body[:3]...)), ""},
		"a length past the end": {msg([]byte{0, 200, 0, 0, 0}), ""},
		"not OP_MSG":            {make([]byte, 24), ""},
	} {
		if got := commandName(c.msg); got != c.want {
			t.Errorf("%s: commandName = %q, want %q", name, got, c.want)
		}
	}
}
