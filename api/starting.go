package api

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Starting answers on the server's listener while the platform cannot
// serve yet (the schema migrations run here or on another instance, the
// stores start): /livez answers 200, /readyz 503 with the reason, e.g.
// {"status":"starting","reason":"schema migration 2 running elsewhere"},
// and every other request 503 with Retry-After. Without it the listener
// would only queue connections, and probes could not tell a slow start
// from a stuck one. Stop hands the listener over to Server.Serve.
type Starting struct {
	app    *fiber.App
	ln     *handover
	reason atomic.Pointer[string]
	done   chan struct{}
	once   sync.Once
}

// retryStarting is the Retry-After of the answers while starting.
const retryStarting = 5 * time.Second

// ServeStarting starts answering on ln. A listener that cannot be handed
// over (one without deadlines) is left alone: the result then does
// nothing, as a nil *Starting does.
func ServeStarting(ln net.Listener, version, reason string) *Starting {
	dl, ok := ln.(deadliner)
	if !ok {
		return nil
	}
	st := &Starting{ln: &handover{Listener: ln, dl: dl}, done: make(chan struct{})}
	st.SetReason(reason)
	st.app = fiber.New(fiber.Config{AppName: "tyokyky", DisableStartupMessage: true, ReadTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second})
	st.app.Get("/livez", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.JSON(fiber.Map{"status": "ok", "version": version})
	})
	st.app.Get("/readyz", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Status(fiber.StatusServiceUnavailable).JSON(readiness{Status: "starting", Checks: map[string]string{}, Reason: *st.reason.Load()})
	})
	st.app.Use(func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(retryStarting.Seconds())))
		return c.Status(fiber.StatusServiceUnavailable).SendString("The service is starting (" + *st.reason.Load() + "); try again in a moment.\n")
	})
	go func() {
		defer close(st.done)
		_ = st.app.Listener(st.ln)
	}()
	return st
}

// SetReason changes what /readyz says the instance waits for.
func (st *Starting) SetReason(reason string) {
	if st == nil {
		return
	}
	st.reason.Store(&reason)
}

// Stop stops answering, lets the requests in flight finish, and leaves
// the listener open for Server.Serve. Connections that arrive meanwhile
// wait in the listener's queue.
func (st *Starting) Stop() {
	if st == nil {
		return
	}
	st.once.Do(func() {
		_ = st.app.ShutdownWithTimeout(5 * time.Second)
		<-st.done
		_ = st.ln.dl.SetDeadline(time.Time{})
	})
}

type deadliner interface{ SetDeadline(time.Time) error }

// handover is the listener as Starting's server sees it: closing it only
// wakes the server's Accept (with a deadline in the past) and tells it the
// listener is closed, so that the listener itself stays open.
type handover struct {
	net.Listener
	dl     deadliner
	closed atomic.Bool
}

func (h *handover) Accept() (net.Conn, error) {
	c, err := h.Listener.Accept()
	if err != nil && h.closed.Load() {
		return nil, net.ErrClosed
	}
	return c, err
}

func (h *handover) Close() error {
	if h.closed.Swap(true) {
		return nil
	}
	if err := h.dl.SetDeadline(time.Unix(1, 0)); err != nil {
		return errors.Join(net.ErrClosed, err)
	}
	return nil
}
