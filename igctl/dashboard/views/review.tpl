% rebase('layout', title=title)
<h1>Needs attention <small data-figure="review-items">{{len(items)}}</small></h1>
<p class="hint">Retry puts an account's stuck step back in the queue, due now, with fresh attempts. Resolve records the step as done by hand (say what was done) and moves on as a bot's completion would.</p>
% include('_attention', items=items, back_to="/review")
