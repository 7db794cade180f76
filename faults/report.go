package faults

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Event is one entry of the timeline of what was injected.
type Event struct {
	At    float64 `json:"at"`
	Fault int     `json:"fault"`
	// What happened: crash, crash skipped, restart, restart waits,
	// partition, declared down, heal, rejoin, a link fault's kind (delay,
	// loss, corrupt) or byzantine, and its end (delay ends, ...).
	What   string   `json:"what"`
	Nodes  []string `json:"nodes,omitempty"`
	Agents []string `json:"agents,omitempty"`
	Detail string   `json:"detail,omitempty"`
}

// Report is what an injector did: the timeline of the faults it applied and
// what the network model did to messages. It is part of a run's output.
type Report struct {
	Seed   uint64  `json:"seed"`
	Spec   Spec    `json:"spec"`
	Detect float64 `json:"detect"`
	RTO    float64 `json:"rto"`
	// Time is the episode time the report was made at.
	Time     float64 `json:"time"`
	Timeline []Event `json:"timeline"`
	Crashes  int     `json:"crashes"`
	// Restarts counts nodes that came back as new incarnations, after a
	// crash or a partition they were declared down in.
	Restarts int `json:"restarts"`
	// DownsDeclared counts the Down messages failure detectors produced
	// across partitions.
	DownsDeclared int `json:"downs_declared"`
	// Delayed counts messages slowed by delay faults; Retransmitted the
	// transmissions lost or corrupted and sent again; Rejected those of
	// them the receiver's MAC check rejected as corrupt.
	Delayed       int `json:"messages_delayed"`
	Retransmitted int `json:"retransmissions"`
	Rejected      int `json:"corrupt_rejected"`
	// Held counts messages held by a partition and delivered after it
	// healed; Refused those refused because their target's node was
	// declared down (their senders were told); LostWithSender those held
	// whose sender crashed before delivery.
	Held           int `json:"held_by_partitions"`
	Refused        int `json:"refused"`
	LostWithSender int `json:"lost_with_sender"`
	// Lies counts actions byzantine agents took that their policy did not
	// choose.
	Lies int `json:"lies"`
	// Downtime is each node's time down (crashed) so far.
	Downtime map[string]float64 `json:"downtime,omitempty"`
}

// Empty reports whether nothing was planned.
func (r Report) Empty() bool {
	return len(r.Timeline) == 0 && r.Crashes == 0 && r.Delayed == 0 && r.Retransmitted == 0
}

// WriteText writes the report as a table of events and a line of counts.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Faults: %s, pattern %s (seed %d); a node silent for %.3g is declared down, retransmission after %.3g\n",
		describeSpec(r.Spec), r.Spec.Pattern, r.Seed, r.Detect, r.RTO)
	if len(r.Timeline) == 0 {
		fmt.Fprintln(&b, "  nothing injected")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  time\tfault\tevent\ton\tdetail")
		for _, e := range r.Timeline {
			on := strings.Join(e.Nodes, " ")
			if len(e.Agents) > 0 {
				on = strings.Join(e.Agents, " ")
			}
			fmt.Fprintf(tw, "  %.2f\t%d\t%s\t%s\t%s\n", e.At, e.Fault, e.What, on, e.Detail)
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "  %d crash(es), %d restart(s), %d Down(s) declared across partitions; messages: %d delayed, %d held by partitions, %d refused, %d retransmitted (%d corrupt rejected), %d lost with their sender; %d lie(s)\n",
		r.Crashes, r.Restarts, r.DownsDeclared, r.Delayed, r.Held, r.Refused, r.Retransmitted, r.Rejected, r.LostWithSender, r.Lies)
	if len(r.Downtime) > 0 {
		names := make([]string, 0, len(r.Downtime))
		for n := range r.Downtime {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %.1f", n, r.Downtime[n])
		}
		fmt.Fprintf(&b, "  downtime: %s\n", strings.Join(parts, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func describeSpec(s Spec) string {
	if !s.Active() {
		return "none"
	}
	lv, _ := s.Intensity.Level()
	out := string(s.Intensity)
	if s.Faults != lv.Faults || s.Targets != lv.Targets || s.Severity != lv.Severity {
		out += fmt.Sprintf(" (%d incident(s), %.0f%% of the nodes each, severity %d)", s.Faults, 100*s.Targets, s.Severity)
	}
	return out
}
