package database

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The embedded store's published address (what administrative commands
// and other instances connect to) is a relay in front of FerretDB that
// passes every write command through the same Gate as the writes of the
// process that runs the store. SQLite has one writer: without the relay,
// writes from other processes met this process's writes in SQLite's busy
// handler, which sleeps in growing steps of up to 100 ms, and three
// instances on one embedded store saved an exam answer in 0.8 s at the
// median (docs/benchmarks.md). The relay reads the wire protocol's
// message frames only to find a command's name; it changes nothing it
// passes on. The guarantees do not change: two processes' updates of one
// document still meet in FerretDB, which does not make them atomic (see
// Collection).

// wireHeaderLen is a MongoDB wire message's header: length, request id,
// the id it answers, operation code (all little-endian int32).
const wireHeaderLen = 16

// opMsg is OP_MSG, the operation every current driver sends commands in.
const opMsg = 2013

// maxWireMessage bounds a frame the relay reads (MongoDB's own limit is
// 48 MB).
const maxWireMessage = 48 << 20

// gatedCommands are the commands that write.
var gatedCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "findAndModify": true, "findandmodify": true,
	"create": true, "drop": true, "createIndexes": true, "dropIndexes": true, "dropDatabase": true, "renameCollection": true,
}

// RelayedWrites is the collection label under which the writes of other
// processes that passed the relay are timed (Options.OnGatedWrite).
const RelayedWrites = "(other processes)"

// relay accepts connections on ln and joins each to the store at backend,
// holding gate from a write command until its answer. onWrite, when not
// nil, is told how long each write waited for the gate and held it.
func relay(ctx context.Context, ln net.Listener, backend string, gate *Gate, onWrite func(collection string, waited, held time.Duration)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Go(func() { relayConn(ctx, client, backend, gate, onWrite) })
	}
}

func relayConn(ctx context.Context, client net.Conn, backend string, gate *Gate, onWrite func(string, time.Duration, time.Duration)) {
	defer client.Close()
	var d net.Dialer
	server, err := d.DialContext(ctx, "tcp", backend)
	if err != nil {
		return
	}
	defer server.Close()
	stop := context.AfterFunc(ctx, func() { client.Close(); server.Close() })
	defer stop()

	// The writes waiting for their answers, by request id: each holds the
	// gate until its answer passes (or the connection ends).
	var mu sync.Mutex
	waiting := map[int32]func(){}
	releaseAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for id, release := range waiting {
			release()
			delete(waiting, id)
		}
	}
	defer releaseAll()

	done := make(chan struct{})
	go func() { // the store's answers
		defer close(done)
		defer client.Close()
		for {
			msg, err := readWireMessage(server)
			if err != nil {
				return
			}
			answers := int32(binary.LittleEndian.Uint32(msg[8:12]))
			mu.Lock()
			if release, ok := waiting[answers]; ok {
				release()
				delete(waiting, answers)
			}
			mu.Unlock()
			if _, err := client.Write(msg); err != nil {
				return
			}
		}
	}()
	for { // the client's requests
		msg, err := readWireMessage(client)
		if err != nil {
			break
		}
		if gatedCommands[commandName(msg)] {
			asked := time.Now()
			release := gate.Hold(ctx)
			if onWrite != nil {
				got, held := time.Now(), release
				release = func() {
					held()
					onWrite(RelayedWrites, got.Sub(asked), time.Since(got))
				}
			}
			if moreToCome(msg) {
				// No answer will come (an unacknowledged write): the gate
				// is held while the message is handed over.
				_, err = server.Write(msg)
				release()
			} else {
				mu.Lock()
				waiting[int32(binary.LittleEndian.Uint32(msg[4:8]))] = release
				mu.Unlock()
				_, err = server.Write(msg)
			}
		} else {
			_, err = server.Write(msg)
		}
		if err != nil {
			break
		}
	}
	server.Close()
	<-done
}

// readWireMessage reads one whole message frame.
func readWireMessage(r io.Reader) ([]byte, error) {
	var head [wireHeaderLen]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(head[:4]))
	if n < wireHeaderLen || n > maxWireMessage {
		return nil, errors.New("database: relay: a message of impossible length")
	}
	msg := make([]byte, n)
	copy(msg, head[:])
	if _, err := io.ReadFull(r, msg[wireHeaderLen:]); err != nil {
		return nil, err
	}
	return msg, nil
}

// commandName is the command an OP_MSG carries: the first key of its body
// (the section of kind 0); "" for other messages.
func commandName(msg []byte) string {
	if len(msg) < wireHeaderLen+4 || binary.LittleEndian.Uint32(msg[12:16]) != opMsg {
		return ""
	}
	rest := msg[wireHeaderLen+4:] // after the flag bits
	for len(rest) > 0 {
		kind := rest[0]
		rest = rest[1:]
		if len(rest) < 4 {
			return ""
		}
		size := int(binary.LittleEndian.Uint32(rest[:4]))
		if size < 4 || size > len(rest) {
			return ""
		}
		switch kind {
		case 0: // the body: a document
			el, err := bson.Raw(rest[:size]).IndexErr(0)
			if err != nil {
				return ""
			}
			return el.Key()
		case 1: // a document sequence: size, identifier, documents
			rest = rest[size:]
		default:
			return ""
		}
	}
	return ""
}

// moreToCome is OP_MSG's flag for a message that gets no answer.
func moreToCome(msg []byte) bool {
	return len(msg) >= wireHeaderLen+4 && binary.LittleEndian.Uint32(msg[16:20])&2 != 0
}
