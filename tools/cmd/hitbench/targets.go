package main

import (
	"fmt"
	"os"
)

// recordTarget appends one row to the targets file (-targets), a markdown
// table that make bench prints at the end: what was measured, the figure,
// the project's target and whether this run met it. atLeast says whether
// the target is a floor (a ratio of throughputs) or a ceiling.
func recordTarget(path, what string, got float64, atLeast bool, limit float64) error {
	if path == "" {
		return nil
	}
	cmp, holds := "≤", got <= limit
	if atLeast {
		cmp, holds = "≥", got >= limit
	}
	verdict := "**holds**"
	if !holds {
		verdict = "**MISSED**"
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "| %s | %.2fx | %s %.2fx | %s |\n", what, got, cmp, limit, verdict)
	return err
}
