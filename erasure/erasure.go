// Package erasure deletes a person from every store that keeps something
// of them (GDPR art. 17): the account page's deletion and the retention
// period of inactive accounts both go through it, so no store is
// forgotten by one of them.
package erasure

import (
	"context"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/assign"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/feedback"
	"github.com/tyokyky/tyokyky/lti"
	"github.com/tyokyky/tyokyky/mail"
	"github.com/tyokyky/tyokyky/study"
	"github.com/tyokyky/tyokyky/xapi"
)

// Stores are the stores a person is erased from; nil ones are skipped
// (a deployment without the exam, say), but Accounts is required.
type Stores struct {
	Accounts     *account.Store
	Progress     *study.Progress
	Feedback     *feedback.Store
	Exam         *exam.Store
	Certificates *cert.Store
	Mail         *mail.Outbox
	// LTI forgets the person's grade links and queued scores (nil: no
	// LTI).
	LTI *lti.Service
	// Assign forgets the person's assignment completions and places on
	// assignments' lists (nil: no assignments).
	Assign *assign.Store
	// XAPI voids the person's statements in the learning record stores
	// and drops those not sent (nil: no xAPI).
	XAPI *xapi.Service
}

// Erase deletes a learner with everything kept of them: progress and
// answers, feedback (made anonymous), exam attempts (kept for the item
// statistics under a pseudonym), certificates (withdrawn), their mail, their
// assignments' completions and places on assignments' lists,
// and the account last, so that a retry after a failure part-way finds it.
func (s Stores) Erase(ctx context.Context, userID string) error {
	if s.Progress != nil {
		if err := s.Progress.DeleteUser(ctx, userID); err != nil {
			return err
		}
	}
	if s.Feedback != nil {
		if err := s.Feedback.ForgetUser(ctx, userID); err != nil {
			return err
		}
	}
	if s.Exam != nil {
		if err := s.Exam.DeleteUser(ctx, userID); err != nil {
			return err
		}
	}
	if s.Certificates != nil {
		if _, err := s.Certificates.Withdraw(ctx, userID); err != nil {
			return err
		}
	}
	if s.Mail != nil {
		if err := s.Mail.DeleteUser(ctx, userID); err != nil {
			return err
		}
	}
	if s.LTI != nil {
		if err := s.LTI.DeleteUser(ctx, userID); err != nil {
			return err
		}
	}
	if s.Assign != nil {
		if err := s.Assign.DeleteUser(ctx, userID); err != nil {
			return err
		}
	}
	if s.XAPI != nil {
		if err := s.XAPI.DeleteUser(ctx, userID); err != nil {
			return err
		}
	}
	return s.Accounts.Delete(ctx, userID)
}
