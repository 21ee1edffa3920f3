package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/study"
)

// App exposes the Fiber app so tests can add routes that misbehave on
// purpose (slow, panicking).
func (s *Server) App() *fiber.App { return s.app }

// Accounts exposes the account store to tests (reset links are issued by
// administrators outside the HTTP API).
func (s *Server) Accounts() *account.Store { return s.accounts }

// Progress exposes the progress store to tests (learners complete the
// course before the exam through it, without playing every video).
func (s *Server) Progress() *study.Progress { return s.progress }

// Course is the published course.
func (s *Server) Course() *course.Course { return s.published().Course }

// Outbox exposes the e-mail outbox to tests.
func (s *Server) Outbox() *mail.Outbox { return s.outbox }

// Exams exposes the exam store to tests (the LTI scores read attempts).
func (s *Server) Exams() *exam.Store { return s.exam }
