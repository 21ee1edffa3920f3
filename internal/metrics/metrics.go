// Package metrics holds the Prometheus collectors that the HTTP server,
// the database connection and the object store report to.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is one registry with the platform's collectors. Each server has
// its own, so tests running several servers do not share counters.
type Metrics struct {
	Registry       *prometheus.Registry
	Requests       *prometheus.CounterVec
	Duration       *prometheus.HistogramVec
	DatabaseErrors *prometheus.CounterVec
	// DatabaseCommands counts the store's commands by name and
	// collection.
	DatabaseCommands *prometheus.CounterVec
	StorageErrors    *prometheus.CounterVec
	// MinIORestarts counts the supervisor's restarts of the MinIO child.
	MinIORestarts prometheus.Counter
	// NoSpace counts writes refused because a disk was full, by store
	// (database, storage).
	NoSpace *prometheus.CounterVec
	// StoreBusy counts requests answered 503 because the database did not
	// take an operation in time (see database.IsBusy).
	StoreBusy prometheus.Counter
	// Mail counts the outbox's tries by result (sent, retry, failed).
	Mail *prometheus.CounterVec
	// Gate times the embedded store's gated writes by collection: how
	// long each waited for the write gate and how long it held it.
	Gate *prometheus.HistogramVec
	// Checkpoint times the embedded store's folds of its write-ahead log.
	Checkpoint *prometheus.HistogramVec
}

// New registers the collectors, plus Go runtime and process metrics.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tyokyky_http_requests_total",
			Help: "HTTP requests by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tyokyky_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route template.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
		DatabaseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tyokyky_database_errors_total",
			Help: "Failed database commands by command name.",
		}, []string{"command"}),
		DatabaseCommands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tyokyky_database_commands_total",
			Help: "Database commands started, by command name and collection.",
		}, []string{"command", "collection"}),
		StorageErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tyokyky_storage_errors_total",
			Help: "Failed object storage operations by operation.",
		}, []string{"operation"}),
		MinIORestarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tyokyky_minio_restarts_total",
			Help: "Restarts of the MinIO child process after it exited.",
		}),
		NoSpace: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tyokyky_no_space_total",
			Help: "Writes refused because the disk was full, by store (database, storage).",
		}, []string{"store"}),
		StoreBusy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tyokyky_database_busy_total",
			Help: "Requests answered 503 (try again) because the database did not take an operation in time: a lock held past its timeout, no connection free.",
		}),
		Gate: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tyokyky_database_gate_seconds",
			Help:    "The embedded store's writes made by this process, by collection: how long each waited for the write gate (phase=wait) and how long it held it (phase=hold).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"collection", "phase"}),
		Checkpoint: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tyokyky_database_checkpoint_seconds",
			Help:    "The embedded store's checkpoints (its write-ahead log folded into the database file), by mode: passive (beside the writers) or truncate (the writers wait).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"mode"}),
		Mail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tyokyky_mail_sent_total",
			Help: "Tries to deliver the outbox's messages by result: sent, retry (failed, tried again later), failed (given up).",
		}, []string{"result"}),
	}
	// Start the error series at zero, so dashboards and alerts see them
	// before the first failure.
	for _, c := range []string{"ping", "find", "insert", "update", "delete", "findAndModify", "aggregate", "createIndexes"} {
		m.DatabaseErrors.WithLabelValues(c)
	}
	for _, op := range []string{"ping", "bucket_exists", "make_bucket", "put", "get", "stat", "remove", "presign"} {
		m.StorageErrors.WithLabelValues(op)
	}
	m.NoSpace.WithLabelValues("database")
	m.NoSpace.WithLabelValues("storage")
	for _, r := range []string{"sent", "retry", "failed"} {
		m.Mail.WithLabelValues(r)
	}
	m.Registry.MustRegister(m.Requests, m.Duration, m.DatabaseErrors, m.DatabaseCommands, m.StorageErrors, m.MinIORestarts, m.NoSpace, m.StoreBusy, m.Mail, m.Gate, m.Checkpoint,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchBackups exports when the last scheduled backup succeeded (0 until
// one has), for an alert on the backups' age.
func (m *Metrics) WatchBackups(lastSuccess func() time.Time) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tyokyky_backup_last_success_timestamp_seconds",
		Help: "When the last successful scheduled backup (by any instance) finished, as a Unix time; 0 when none has.",
	}, func() float64 {
		t := lastSuccess()
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}))
}

// WatchSummaries exports how many report summaries this instance holds
// in memory (0 until the first read of them has finished).
func (m *Metrics) WatchSummaries(held func() int) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tyokyky_report_summaries",
		Help: "Learners' report summaries this instance holds in memory; 0 until its first read of them (at start) has finished.",
	}, func() float64 { return float64(held()) }))
}

// GatedWrite times a write at the embedded store's gate.
func (m *Metrics) GatedWrite(collection string, waited, held time.Duration) {
	m.Gate.WithLabelValues(collection, "wait").Observe(waited.Seconds())
	m.Gate.WithLabelValues(collection, "hold").Observe(held.Seconds())
}

// Checkpointed times a checkpoint of the embedded store's write-ahead log.
func (m *Metrics) Checkpointed(mode string, took time.Duration) {
	m.Checkpoint.WithLabelValues(mode).Observe(took.Seconds())
}

// DatabaseError counts a failed database command.
func (m *Metrics) DatabaseError(command string) { m.DatabaseErrors.WithLabelValues(command).Inc() }

// StorageError counts a failed storage operation.
func (m *Metrics) StorageError(op string) { m.StorageErrors.WithLabelValues(op).Inc() }

// DatabaseCommand counts a database command started on a collection.
func (m *Metrics) DatabaseCommand(command, collection string) {
	m.DatabaseCommands.WithLabelValues(command, collection).Inc()
}
