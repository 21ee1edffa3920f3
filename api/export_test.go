package api

import "github.com/gofiber/fiber/v2"

// App exposes the Fiber app so tests can add routes that misbehave on
// purpose (slow, panicking).
func (s *Server) App() *fiber.App { return s.app }
