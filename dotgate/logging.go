package dotgate

// maxLoggedNames bounds the names whose last refusal line is remembered;
// beyond it the memory starts afresh. The refusal lines of a name are held
// back within verify.RefusalLogInterval of its last one, as the
// verification core does for the names it refuses: a client retrying in a
// loop costs a line a minute.
const maxLoggedNames = 10000
