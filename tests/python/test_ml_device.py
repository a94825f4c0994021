import logging

import pytest

from vectorfin.ml.device import choose_device, decide_device


def test_cuda_with_bf16_trains_in_bf16():
    choice = decide_device(None, cuda_available=True, bf16_supported=True)
    assert (choice.device, choice.precision) == ("cuda", "bf16")


def test_cuda_without_bf16_falls_back_to_fp16():
    choice = decide_device(None, cuda_available=True, bf16_supported=False)
    assert (choice.device, choice.precision) == ("cuda", "fp16")
    assert "without bf16" in choice.reason


def test_no_accelerator_means_cpu_fp32():
    choice = decide_device(None, cuda_available=False, bf16_supported=False)
    assert (choice.device, choice.precision) == ("cpu", "fp32")


def test_mps_is_used_in_fp32_when_there_is_no_cuda():
    choice = decide_device(None, cuda_available=False, bf16_supported=False, mps_available=True)
    assert (choice.device, choice.precision) == ("mps", "fp32")


def test_cpu_preference_wins_over_an_available_gpu():
    assert decide_device("cpu", cuda_available=True, bf16_supported=True).device == "cpu"


def test_unavailable_preference_falls_back_and_says_so():
    choice = decide_device("cuda", cuda_available=False, bf16_supported=False)
    assert choice.device == "cpu"
    assert choice.reason.startswith("cuda requested but not available")


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        decide_device("tpu", cuda_available=False, bf16_supported=False)


def test_choose_device_logs_its_choice(caplog):
    with caplog.at_level(logging.INFO, logger="vectorfin.ml.device"):
        choice = choose_device("cpu")
    assert choice.device == "cpu"
    assert "Using device cpu with fp32 precision" in caplog.text
