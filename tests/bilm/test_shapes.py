"""Row counts rounded to buckets (elmo.bilm.shapes), and the biLM's results unchanged by the padding."""

import torch

from elmo.bilm.bench import real_throughput
from elmo.bilm.shapes import bucket, pad_rows
from elmo.bilm.softmax import FastAdaptiveSoftmax


def test_buckets_cover_every_size_with_little_padding_and_few_shapes():
    sizes = range(1, 20_000)
    assert all(n <= bucket(n) <= max(n, 1.125 * n) for n in sizes)
    assert all(bucket(bucket(n)) == bucket(n) for n in sizes)  # a bucket is its own bucket
    # Eight sizes per doubling: 300-2,600 distinct spellings a batch -> a few dozen shapes, not 2,300.
    assert len({bucket(n) for n in range(300, 2600)}) <= 8 * 4


def test_pad_rows_appends_rows_of_the_value():
    x = torch.arange(6).view(3, 2)
    assert torch.equal(pad_rows(x, 5, value=-1), torch.tensor([[0, 1], [2, 3], [4, 5], [-1, -1], [-1, -1]]))
    assert pad_rows(x, 3) is x


def test_padded_adaptive_head_gives_each_row_its_own_loss_and_gradient():
    """The head pads its rows to a bucket; the losses and gradients of the real rows are those of
    each row computed alone (no padding row leaks into them)."""
    torch.manual_seed(0)
    head = FastAdaptiveSoftmax(8, 50, (10, 30))
    hidden = torch.randn(13, 8, requires_grad=True)  # 13 rows -> bucket 14
    targets = torch.tensor([0, 12, 45, 3, 31, 9, 10, 29, 30, 49, 1, 2, 40])
    nll = head(hidden, targets)
    assert nll.shape == (13,)
    (grad,) = torch.autograd.grad(nll.sum(), hidden)
    for i in range(13):
        alone = hidden[i : i + 1].detach().requires_grad_()
        one = head(alone, targets[i : i + 1])
        torch.testing.assert_close(nll[i : i + 1], one)
        torch.testing.assert_close(grad[i : i + 1], torch.autograd.grad(one.sum(), alone)[0])


def test_real_throughput_times_real_batches(data_root):
    r = real_throughput("tiny", steps=4, chunk=2)
    assert len(r["tokens_per_s_by_chunk"]) == 2 and all(x > 0 for x in r["tokens_per_s_by_chunk"])
