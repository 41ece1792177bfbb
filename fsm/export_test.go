package fsm

// Golden lets the external tests compare with frozen files the same way.
var Golden = golden
