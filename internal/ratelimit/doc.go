// Package ratelimit limits how often one key (an IP address, an email) may do something, in memory.
package ratelimit
